import { extendZodWithOpenApi, OpenAPIRegistry, type ResponseConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { errorBodySchema, type ErrorCode } from '@app/contracts';
import { CODES_NEVER_A_STATUS, STATUS_BY_CODE } from '../http/api-error.js';

/**
 * How a feature documents its routes: a `<feature>.openapi.ts` next to its controller exports a
 * `register…Routes(api: ApiDocs)` that calls `api.registry.registerPath(...)` with the same zod
 * schemas the controller validates with, and `api.errors(...)` for its error responses. Then it is
 * added to ROUTE_DOCS in openapi.document.ts. A test fails when a route is served but not documented.
 */
export interface ApiDocs {
  registry: OpenAPIRegistry;
  /** Registers `schema` as the component `name` (components/schemas), and returns what refers to it. */
  component<S extends z.ZodType>(name: string, schema: S, description?: string): S;
  /** The error responses of a route, by HTTP status, each naming the codes it can carry. */
  errors(...statuses: number[]): Record<number, ResponseConfig>;
  /** A JSON response with `schema`. */
  json(description: string, schema: z.ZodType): ResponseConfig;
  /** The component schema of every error body. */
  errorBody: z.ZodType;
}

// Adds `.openapi()` to zod's schemas, which the registry uses to name components.
extendZodWithOpenApi(z);

const DESCRIPTION_BY_STATUS: Record<number, string> = {
  400: 'Bad request: a malformed id, query, field or body',
  401: 'No API key, or one that is malformed, unknown or revoked (or an invalid or expired media link); with WWW-Authenticate',
  403: 'The key may not use this route (it needs an admin key)',
  404: 'Not found (another tenant\'s job is answered exactly like a job that does not exist)',
  405: 'Method not allowed',
  409: 'Conflict with the job\'s state',
  413: 'Payload too large',
  415: 'Unsupported: the upload is not a video container Framewire accepts (recognised by its first bytes, not its name)',
  416: 'Range not satisfiable',
  422: 'Unprocessable: the upload is a damaged video (truncated, no moov), or the request contradicts an earlier one',
  429: 'Too many requests for this key, too many failed authentications from this address (RATE_LIMITED), or too many uploads or live streams open for this key (TOO_MANY_UPLOADS, TOO_MANY_STREAMS); retry after the Retry-After seconds',
  499: 'The client closed the request',
  500: 'Internal error (logged in full; the body says no more)',
  503: 'A dependency (NATS, the jobs service) is not answering; retry after the Retry-After seconds',
  507: 'Insufficient storage: the Object Store or the event stream is at its size limit; nothing was stored',
};

export function createApiDocs(): ApiDocs {
  const registry = new OpenAPIRegistry();
  // A fresh copy (.meta) of each schema: one made after extendZodWithOpenApi, whatever module made the original.
  const component = <S extends z.ZodType>(name: string, schema: S, description?: string): S =>
    registry.register(name, schema.meta(description ? { description } : {}) as S);
  const errorBody = component('Error', errorBodyWithEveryCode(), 'Every error: `{"error":{"code","message"}}`, no stack trace');
  const codesByStatus = new Map<number, string[]>();
  for (const [code, status] of Object.entries(STATUS_BY_CODE)) codesByStatus.set(status, [...(codesByStatus.get(status) ?? []), code]);
  const json = (description: string, schema: z.ZodType): ResponseConfig => ({ description, content: { 'application/json': { schema } } });
  return {
    registry,
    component,
    errorBody,
    json,
    errors: (...statuses) =>
      Object.fromEntries(
        statuses.map((status) => {
          const codes = codesByStatus.get(status) ?? [];
          const description = `${DESCRIPTION_BY_STATUS[status] ?? 'Error'}${codes.length ? `. Codes: ${codes.join(', ')}` : ''}`;
          return [status, json(description, errorBody)];
        }),
      ),
  };
}

/** errorBodySchema, whose `code` lists every ErrorCode: with its status, or as never a status. */
function errorBodyWithEveryCode() {
  const { error } = errorBodySchema.shape;
  const elsewhere = new Set(CODES_NEVER_A_STATUS);
  const answered = Object.entries(STATUS_BY_CODE).filter(([code]) => !elsewhere.has(code as ErrorCode));
  const description =
    'Stable error code; match on this, never on the message. The codes, with their status: ' +
    `${answered.map(([code, status]) => `${code} (${status})`).join(', ')}. ` +
    `Never a status, but the code of a live stream's closing \`error\` event, or of a job's \`error\` and its dead letter: ${CODES_NEVER_A_STATUS.join(', ')}.`;
  return errorBodySchema.extend({ error: error.extend({ code: z.string().meta({ description, example: 'JOB_NOT_FOUND' }) }) });
}
