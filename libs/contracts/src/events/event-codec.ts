import { z } from 'zod';
import { type JobEvent, type JobEventType, storedEventSchemas } from './job-events.js';
import { upcast } from './upcast.js';

export type DecodeResult = { ok: true; event: JobEvent } | { ok: false; reason: string };

const envelopeSchema = z.object({
  type: z.string(),
  version: z.number().int().positive(),
});

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function encodeEvent(event: JobEvent): Uint8Array {
  return encoder.encode(JSON.stringify(event));
}

/**
 * Parses an event that arrived from the bus. Never throws: a malformed message is reported with a
 * reason, so the consumer can log it and terminate the message instead of crashing.
 */
export function decodeEvent(payload: Uint8Array): DecodeResult {
  let raw: unknown;
  try {
    raw = JSON.parse(decoder.decode(payload));
  } catch {
    return { ok: false, reason: 'payload is not UTF-8 JSON' };
  }
  return parseEvent(raw);
}

export function parseEvent(raw: unknown): DecodeResult {
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
