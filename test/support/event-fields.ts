import { randomUUID } from 'node:crypto';
import fc from 'fast-check';
import { z } from 'zod';
import { storedEventSchemas, type JobEventType } from '@app/contracts';

/**
 * Every event type and version that may be found in the stream, with a valid sample of it and every
 * place in it where text goes, all derived from the zod schemas (through their JSON Schema): a new
 * event type or field is covered by the tests that use this without editing them.
 */

type JsonSchema = {
  type?: string;
  const?: unknown;
  enum?: unknown[];
  format?: string;
  pattern?: string;
  minLength?: number;
  maxLength?: number;
  minItems?: number;
  minimum?: number;
  maximum?: number;
  exclusiveMinimum?: number;
  properties?: Record<string, JsonSchema>;
  additionalProperties?: JsonSchema | boolean;
  items?: JsonSchema;
  anyOf?: JsonSchema[];
  $ref?: string;
  $defs?: Record<string, JsonSchema>;
};

/** A place for text in an event: a string field, the keys and values of a record (params), or any JSON (a result). */
export interface TextSlot {
  path: Array<string | number>;
  kind: 'string' | 'record' | 'json';
  /** For a string with a pattern: strings that match it (valid for the schema, arbitrary for everything else). */
  pattern: RegExp | null;
  /** The JSON Schema format of a string (`uuid`, `date-time`), if any. */
  format: string | null;
}

export interface EventShape {
  type: JobEventType;
  version: number;
  schema: z.ZodType;
  /** A fresh valid event of this type and version (new ids). */
  sample(): Record<string, unknown>;
  slots: TextSlot[];
}

export function eventShapes(): EventShape[] {
  const shapes: EventShape[] = [];
  for (const [type, versions] of Object.entries(storedEventSchemas) as Array<[JobEventType, Record<number, z.ZodType>]>) {
    for (const [version, schema] of Object.entries(versions)) {
      const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
      const defs = json.$defs ?? {};
      const slots = textSlots(json, [], defs);
      shapes.push({ type, version: Number(version), schema, slots, sample: () => validSample(schema, json, defs) });
    }
  }
  return shapes;
}

function resolve(schema: JsonSchema, defs: Record<string, JsonSchema>): JsonSchema {
  return schema.$ref ? defs[schema.$ref.replace('#/$defs/', '')]! : schema;
}

function textSlots(schema: JsonSchema, path: Array<string | number>, defs: Record<string, JsonSchema>): TextSlot[] {
  if (schema.$ref) return [{ path, kind: 'json', pattern: null, format: null }];
  if (schema.anyOf) {
    const options = schema.anyOf.filter((option) => option.type !== 'null');
    return options.length === 1 ? textSlots(options[0]!, path, defs) : [{ path, kind: 'json', pattern: null, format: null }];
  }
  if (schema.type === 'string' && schema.const === undefined && !schema.enum) {
    return [{ path, kind: 'string', pattern: schema.pattern ? new RegExp(schema.pattern) : null, format: schema.format ?? null }];
  }
  if (schema.type === 'object' && schema.properties) {
    return Object.entries(schema.properties).flatMap(([key, property]) => textSlots(property, [...path, key], defs));
  }
  if (schema.type === 'object') return [{ path, kind: 'record', pattern: null, format: null }];
  if (schema.type === 'array' && schema.items) return textSlots(schema.items, [...path, 0], defs);
  return [];
}

/** A valid sample: the JSON Schema says what to fill in, the zod schema (refinements included) checks it. */
function validSample(schema: z.ZodType, json: JsonSchema, defs: Record<string, JsonSchema>): Record<string, unknown> {
  for (let seed = 1; seed < 200; seed++) {
    const value = sampleOf(json, defs, seed) as Record<string, unknown>;
    if (schema.safeParse(value).success) return value;
  }
  throw new Error(`no valid sample found for ${JSON.stringify(json).slice(0, 200)}`);
}

function sampleOf(schema: JsonSchema, defs: Record<string, JsonSchema>, seed: number): unknown {
  const s = resolve(schema, defs);
  if (s.const !== undefined) return s.const;
  if (s.enum) return s.enum[0];
  if (s.anyOf) return sampleOf(s.anyOf.find((option) => option.type !== 'null') ?? s.anyOf[0]!, defs, seed);
  switch (s.type) {
    case 'string':
      if (s.format === 'uuid') return randomUUID();
      if (s.format === 'date-time') return new Date(Date.UTC(2026, 0, 1, 0, 0, seed)).toISOString();
      if (s.pattern) return fc.sample(fc.stringMatching(new RegExp(s.pattern)), { numRuns: 1, seed })[0];
      return 'x'.repeat(Math.min(Math.max(s.minLength ?? 1, 4), s.maxLength ?? 4));
    case 'integer':
    case 'number':
      return Math.min(Math.max(1, s.minimum ?? 1, (s.exclusiveMinimum ?? 0) + 1), s.maximum ?? Number.MAX_SAFE_INTEGER);
    case 'boolean':
      return false;
    case 'array':
      // As many items as the array needs at least (a split has two parts or more), one when it needs none.
      return s.items ? Array.from({ length: Math.max(1, s.minItems ?? 1) }, () => sampleOf(s.items!, defs, seed)) : [];
    case 'object':
      return s.properties ? Object.fromEntries(Object.entries(s.properties).map(([key, property]) => [key, sampleOf(property, defs, seed)])) : {};
    default:
      return 'x';
  }
}

/** `value` with `replacement` at `path` (a copy; `value` is not changed). */
export function setAt(value: unknown, path: Array<string | number>, replacement: unknown): unknown {
  if (path.length === 0) return replacement;
  const [head, ...rest] = path;
  if (Array.isArray(value)) {
    const copy: unknown[] = [...value];
    copy[Number(head)] = setAt(copy[Number(head)], rest, replacement);
    return copy;
  }
  const copy: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  copy[String(head)] = setAt(copy[String(head)], rest, replacement);
  return copy;
}
