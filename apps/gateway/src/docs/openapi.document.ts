import { OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { registerDashboardRoutes } from '../dashboard/dashboard.openapi.js';
import { registerJobFilesRoutes } from '../files/job-files.openapi.js';
import { registerJobsRoutes } from '../jobs/jobs.openapi.js';
import { registerJobStreamRoutes } from '../live/job-stream.openapi.js';
import { registerLiveRoutes } from '../live/live.openapi.js';
import { registerOpsRoutes } from '../ops/ops.openapi.js';
import { registerPipelinesRoutes } from '../pipelines/pipelines.openapi.js';
import { registerVideoCompatRoutes } from '../seeds/video-compat.openapi.js';
import { registerSystemRoutes } from '../system/system.openapi.js';
import { registerWorkersRoutes } from '../workers/workers.openapi.js';
import { createApiDocs, type ApiDocs } from './openapi.registry.js';

/** Every feature's route documentation. A new controller adds its `register…Routes` here. */
export const ROUTE_DOCS: Array<(api: ApiDocs) => void> = [
  registerJobsRoutes,
  registerJobFilesRoutes,
  registerJobStreamRoutes,
  registerPipelinesRoutes,
  registerWorkersRoutes,
  registerVideoCompatRoutes,
  registerLiveRoutes,
  registerSystemRoutes,
  registerOpsRoutes,
  registerDashboardRoutes,
  registerDocsRoutes,
];

function registerDocsRoutes({ registry, json }: ApiDocs): void {
  registry.registerPath({
    method: 'get',
    path: '/docs',
    tags: ['operations'],
    summary: 'This documentation (Swagger UI)',
    responses: { 200: { description: 'HTML', content: { 'text/html': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs/openapi.json',
    tags: ['operations'],
    summary: 'This documentation as OpenAPI 3.1 JSON',
    responses: { 200: json('The OpenAPI document', z.record(z.string(), z.unknown())) },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs/init.js',
    tags: ['operations'],
    summary: 'Swagger UI\'s start script (a file, so the CSP can forbid inline scripts)',
    responses: { 200: { description: 'JavaScript', content: { 'text/javascript': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/docs/assets/{file}',
    tags: ['operations'],
    summary: 'Swagger UI\'s own files',
    request: { params: z.object({ file: z.string() }) },
    responses: { 200: { description: 'A static file' }, 404: { description: 'No such file' } },
  });
}

/** The OpenAPI 3.1 document of the gateway. */
export function buildOpenApiDocument(version: string): ReturnType<OpenApiGeneratorV31['generateDocument']> {
  const api = createApiDocs();
  for (const register of ROUTE_DOCS) register(api);
  const generator = new OpenApiGeneratorV31(api.registry.definitions);
  return generator.generateDocument({
    openapi: '3.1.0',
    info: {
      title: 'Framewire API',
      version,
      description:
        'Event-sourced video jobs. Every error is `{"error":{"code","message"}}` with a 4xx or 5xx status; clients match on `code`. ' +
        'Every response carries `X-Request-Id`, the correlation id found in every service\'s logs for the request.',
    },
    tags: [
      { name: 'jobs', description: 'Submit and read jobs' },
      { name: 'live', description: 'Server-Sent Events' },
      { name: 'operations', description: 'Metrics, health, figures, documentation' },
      { name: 'dashboard', description: 'The web dashboard' },
      { name: 'seeds', description: 'The seeds\' video API, for their clients to work unchanged' },
    ],
  });
}
