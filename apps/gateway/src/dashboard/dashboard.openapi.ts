import { z } from 'zod';
import { jobIdParams } from '../jobs/jobs.openapi.js';
import type { ApiDocs } from '../docs/openapi.registry.js';

export function registerDashboardRoutes({ registry, errors }: ApiDocs): void {
  const html = { description: 'The dashboard (a single-page app; not cached)', content: { 'text/html': { schema: z.string() } } };
  registry.registerPath({ method: 'get', path: '/', tags: ['dashboard'], summary: 'The operator dashboard', responses: { 200: html, ...errors(503) } });
  registry.registerPath({
    method: 'get',
    path: '/jobs/{id}',
    tags: ['dashboard'],
    summary: 'The dashboard, open on one job',
    request: { params: jobIdParams },
    responses: { 200: html, ...errors(400, 503) },
  });
  registry.registerPath({ method: 'get', path: '/webhooks', tags: ['dashboard'], summary: 'The dashboard, open on the webhook endpoints', responses: { 200: html, ...errors(503) } });
}
