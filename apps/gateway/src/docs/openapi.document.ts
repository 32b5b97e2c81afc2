import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { registerDashboardRoutes } from '../dashboard/dashboard.openapi.js';
import { registerDeadLettersRoutes } from '../dead-letters/dead-letters.openapi.js';
import { registerJobFilesRoutes } from '../files/job-files.openapi.js';
import { registerJobsRoutes } from '../jobs/jobs.openapi.js';
import { registerUploadsRoutes } from '../resumable/uploads.openapi.js';
import { registerJobStreamRoutes } from '../live/job-stream.openapi.js';
import { registerLiveRoutes } from '../live/live.openapi.js';
import { registerOpsRoutes } from '../ops/ops.openapi.js';
import { registerPipelinesRoutes } from '../pipelines/pipelines.openapi.js';
import { registerVideoCompatRoutes } from '../seeds/video-compat.openapi.js';
import { registerSystemRoutes } from '../system/system.openapi.js';
import { registerWebhooksRoutes } from '../webhooks/webhooks.openapi.js';
import { registerWorkersRoutes } from '../workers/workers.openapi.js';
import type { RouteAccessEntry } from '../auth/route-access.table.js';
import { createApiDocs, type ApiDocs } from './openapi.registry.js';

/** Every feature's route documentation. A new controller adds its `register…Routes` here. */
export const ROUTE_DOCS: Array<(api: ApiDocs) => void> = [
  registerJobsRoutes,
  registerUploadsRoutes,
  registerJobFilesRoutes,
  registerJobStreamRoutes,
  registerPipelinesRoutes,
  registerWorkersRoutes,
  registerDeadLettersRoutes,
  registerWebhooksRoutes,
  registerVideoCompatRoutes,
  registerLiveRoutes,
  registerSystemRoutes,
  registerOpsRoutes,
  registerDashboardRoutes,
  registerDocsRoutes,
];

function registerDocsRoutes({ registry, json, errors }: ApiDocs): void {
  registry.registerPath({
    method: 'get',
    path: '/docs',
    operationId: 'getDocs',
    tags: ['docs'],
    summary: 'This documentation (Swagger UI)',
    responses: { 200: { description: 'HTML', content: { 'text/html': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs/openapi.json',
    operationId: 'getOpenApiDocument',
    tags: ['docs'],
    summary: 'This documentation as OpenAPI 3.1 JSON',
    responses: { 200: json('The OpenAPI document', z.record(z.string(), z.unknown())) },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs/init.js',
    operationId: 'getDocsScript',
    tags: ['docs'],
    summary: 'Swagger UI\'s start script (a file, so the CSP can forbid inline scripts)',
    responses: { 200: { description: 'JavaScript', content: { 'text/javascript': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs/assets/{file}',
    operationId: 'getDocsAsset',
    tags: ['docs'],
    summary: 'Swagger UI\'s own files',
    request: { params: z.object({ file: z.string() }) },
    responses: { 200: { description: 'A static file' }, ...errors(404) },
  });
}

/** The API's version, in the document's `info` (the gateway's and the generated client's). */
export const API_VERSION = '0.1.0';

type OpenApiDocument = ReturnType<OpenApiGeneratorV31['generateDocument']>;

export const BEARER_SCHEME = 'apiKey';
export const MEDIA_LINK_SCHEME = 'mediaLink';

/**
 * The OpenAPI 3.1 document of the gateway. `access` (routeAccessOf the gateway's controllers, the
 * same metadata the auth guard reads) decides each operation's `security`: none for public routes,
 * the bearer API key for the rest (or a media link where a route takes one), with their 401 and 429
 * answers, and 403 for admin routes.
 */
export function buildOpenApiDocument(version: string, access: RouteAccessEntry[]): OpenApiDocument {
  const api = createApiDocs();
  for (const register of ROUTE_DOCS) register(api);
  api.registry.registerComponent('securitySchemes', BEARER_SCHEME, {
    type: 'http',
    scheme: 'bearer',
    description: 'An API key (`fwk_…`, made with `framewire keys create`), sent as `Authorization: Bearer <key>`. Admin keys see every tenant.',
  });
  api.registry.registerComponent('securitySchemes', MEDIA_LINK_SCHEME, {
    type: 'apiKey',
    in: 'query',
    name: 'token',
    description: 'A job\'s signed media link (POST /v1/jobs/{id}/media-links), for that job\'s video, artifacts and live streams only, until it expires.',
  });
  const generator = new OpenApiGeneratorV31(api.registry.definitions);
  const document = generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Framewire API',
      version,
      license: { name: 'MIT', identifier: 'MIT' },
      description:
        'Event-sourced video jobs. Every error is `{"error":{"code","message"}}` with a 4xx or 5xx status; clients match on `code`. ' +
        'Every response carries `X-Request-Id`, the correlation id found in every service\'s logs for the request. ' +
        'A request that Node\'s HTTP parser refuses before any route sees it is answered in the same shape, on any path: 400 BAD_REQUEST (malformed), ' +
        '408 BAD_REQUEST (headers slower than 30 s), 431 HEADERS_TOO_LARGE; those are not repeated under each operation. ' +
        'Every route needs an API key (`Authorization: Bearer <key>`) unless its `security` is empty; each operation\'s ' +
        '`x-framewire-access` says `public`, `key`, `admin` or `media-link` (the signed media link in the path, nothing else). A key sees its own tenant\'s jobs only (an admin key, every tenant\'s): ' +
        'another tenant\'s job is 404, never 403.',
    },
    security: [{ [BEARER_SCHEME]: [] }],
    servers: [{ url: '/', description: 'The gateway that serves this document (its origin); a generated client takes the base URL it is given' }],
    tags: [
      { name: 'jobs', description: 'Submit, list, read, cancel, redrive and delete jobs; the pipelines they can run' },
      { name: 'files', description: 'A job\'s result, artifacts, original upload and signed media links' },
      { name: 'uploads', description: 'Resumable uploads (tus 1.0.0): a large file sent in chunks that survives a dropped connection' },
      { name: 'live', description: 'Live updates as Server-Sent Events: one job\'s, or every job\'s changes' },
      { name: 'webhooks', description: 'Signed webhooks: endpoints, their deliveries, replays' },
      { name: 'operations', description: 'Workers, dead letters, stream figures, metrics and health' },
      { name: 'docs', description: 'This documentation' },
      { name: 'dashboard', description: 'The web dashboard' },
      { name: 'seeds', description: 'The seeds\' video API, for their clients to work unchanged' },
    ],
  });
  applySecurity(document, access, api);
  return document;
}

type Operation = { security?: Array<Record<string, string[]>>; responses?: Record<string, unknown>; 'x-framewire-access'?: string };

function applySecurity(document: OpenApiDocument, access: RouteAccessEntry[], api: ApiDocs): void {
  const byRoute = new Map(access.map((entry) => [`${entry.method} ${entry.path}`, entry]));
  // Added after generation, so in the generated form: the error component by reference (the seeds'
  // routes answer theirs, which holds ours, from the guards too).
  const errorResponse = (status: number, component: string) => ({
    description: api.errors(status)[status]!.description,
    content: { 'application/json': { schema: { $ref: `#/components/schemas/${component}` } } },
  });
  for (const [path, item] of Object.entries(document.paths ?? {})) {
    for (const [method, value] of Object.entries(item as Record<string, Operation>)) {
      if (typeof value !== 'object' || value === null || !('responses' in value)) continue;
      const entry = byRoute.get(`${method} ${path}`);
      const level = entry?.access ?? 'key';
      value['x-framewire-access'] = level;
      if (level === 'public') {
        value.security = [];
        continue;
      }
      // A media link in the path is a path parameter (which no OpenAPI security scheme can be): the
      // operation names no scheme, and says how it is authorized in its `token` parameter.
      if (level === 'media-link') value.security = [];
      else value.security = entry?.mediaLink ? [{ [BEARER_SCHEME]: [] }, { [MEDIA_LINK_SCHEME]: [] }] : [{ [BEARER_SCHEME]: [] }];
      const responses = (value.responses ??= {});
      const component = JSON.stringify(responses).includes('#/components/schemas/SeedsError') ? 'SeedsError' : 'Error';
      responses['401'] ??= { ...errorResponse(401, component), headers: { 'WWW-Authenticate': { schema: { type: 'string' }, description: 'Bearer realm="framewire", with the error' } } };
      if (level === 'admin') responses['403'] ??= errorResponse(403, component);
      responses['429'] ??= {
        ...errorResponse(429, component),
        headers: {
          'Retry-After': { schema: { type: 'integer' }, description: 'Seconds to wait before the next request' },
          'RateLimit-Limit': { schema: { type: 'integer' } },
          'RateLimit-Remaining': { schema: { type: 'integer' } },
          'RateLimit-Reset': { schema: { type: 'integer' } },
        },
      };
    }
  }
}
