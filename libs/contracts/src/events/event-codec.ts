import { z } from 'zod';
import { cleanJson, findUncleanText, mayHoldUncleanText, UNCLEAN_TEXT } from '../text/clean-text.js';
import { type JobEvent, type JobEventType, storedEventSchemas } from './job-events.js';
import { upcast } from './upcast.js';

export type DecodeResult = { ok: true; event: JobEvent } | { ok: false; reason: string };

const envelopeSchema = z.object({
  type: z.string(),
  version: z.number().int().positive(),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/** An event holds a string that is not clean text (see clean-text.ts): a bug at the edge that built it. */
export class UncleanEventError extends Error {
  constructor(
    readonly eventType: string,
    readonly path: string,
  ) {
    super(`refusing to append ${eventType}: ${path}: ${UNCLEAN_TEXT}; clean it where it enters (cleanText)`);
    this.name = 'UncleanEventError';
  }
}

/**
 * The bytes of an event for the log. Throws UncleanEventError for an event that holds text that is
 * not clean: such an event would be stored, and then refused by PostgreSQL wherever it is projected.
 */
export function encodeEvent(event: JobEvent): Uint8Array {
  const json = JSON.stringify(event);
  if (mayHoldUncleanText(json)) {
    const where = findUncleanText(event);
    if (where !== null) throw new UncleanEventError(event.type, where);
  }
  return encoder.encode(json);
}

/**
 * Parses an event that arrived from the bus. Never throws: a malformed message is reported with a
 * reason, so the consumer can log it and terminate the message instead of crashing.
 *
 * Text that is not clean (a lone surrogate, a NUL), which a release before encodeEvent refused it
 * could store, is cleaned here (cleanJson: U+FFFD for a lone surrogate, NUL removed), as old versions
 * are upcast: the event reads, and projects, as what it meant.
 */
export function decodeEvent(payload: Uint8Array): DecodeResult {
  let raw: unknown;
  let json: string;
  try {
    json = decoder.decode(payload);
    raw = JSON.parse(json);
  } catch {
    return { ok: false, reason: 'payload is not UTF-8 JSON' };
  }
  // Without such an escape the parsed value is clean: no walk over it on the usual path.
  return validate(mayHoldUncleanText(json) ? cleanJson(raw) : raw);
}

/** Validates a value as an event of its type and version, upcast to the current one. Text that is not clean is refused. */
export function parseEvent(raw: unknown): DecodeResult {
  const validated = validate(raw);
  if (!validated.ok) return validated;
  const where = findUncleanText(raw);
  return where === null ? validated : { ok: false, reason: `invalid ${validated.event.type} v${(raw as { version: number }).version}: ${where}: ${UNCLEAN_TEXT}` };
}

function validate(raw: unknown): DecodeResult {
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success) {
    return { ok: false, reason: 'missing or invalid "type"/"version"' };
  }
  const { type, version } = envelope.data;
  if (!Object.hasOwn(storedEventSchemas, type)) {
    return { ok: false, reason: `unknown event type "${type}"` };
  }
  const versions: Record<number, z.ZodType> = storedEventSchemas[type as JobEventType];
  const schema = versions[version];
  if (!schema) {
    return { ok: false, reason: `unknown version ${version} of ${type}` };
  }
  const parsed = schema.safeParse(raw);
  if (!parsed.success) {
    return { ok: false, reason: `invalid ${type} v${version}: ${summarizeIssues(parsed.error)}` };
  }
  return { ok: true, event: upcast(parsed.data as StoredEvent) };
}

export type StoredEvent = {
  [T in JobEventType]: z.infer<(typeof storedEventSchemas)[T][keyof (typeof storedEventSchemas)[T]]>;
}[JobEventType];

export function summarizeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((issue) => `${issue.path.length ? issue.path.join('.') : '(root)'}: ${issue.message}`)
    .join('; ');
}
