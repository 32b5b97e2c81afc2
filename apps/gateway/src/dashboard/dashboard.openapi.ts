import { z } from 'zod';
import { dashboardSettingsSchema } from '@app/contracts';
import { jobIdParams } from '../jobs/jobs.openapi.js';
import type { ApiDocs } from '../docs/openapi.registry.js';

export function registerDashboardRoutes({ registry, errors, json, component }: ApiDocs): void {
  const html = { description: 'The dashboard (a single-page app; not cached)', content: { 'text/html': { schema: z.string() } } };
  registry.registerPath({ method: 'get', path: '/', operationId: 'getDashboard', tags: ['dashboard'], summary: 'The operator dashboard', responses: { 200: html, ...errors(503) } });
  registry.registerPath({
    method: 'get',
    path: '/jobs/{id}',
    operationId: 'getDashboardJob',
    tags: ['dashboard'],
    summary: 'The dashboard, open on one job',
    request: { params: jobIdParams },
    responses: { 200: html, ...errors(400, 503) },
  });
  registry.registerPath({ method: 'get', path: '/webhooks', operationId: 'getDashboardWebhooks', tags: ['dashboard'], summary: 'The dashboard, open on the webhook endpoints', responses: { 200: html, ...errors(503) } });
  registry.registerPath({
    method: 'get',
    path: '/v1/dashboard/settings',
    operationId: 'getDashboardSettings',
    tags: ['dashboard'],
    summary: "What the dashboard shows by the gateway's configuration",
    description: 'The link to a job\'s trace in the operators\' trace UI (TRACE_UI_URL), `{trace_id}` standing for the job\'s `trace_id`; null when none is set.',
    responses: { 200: json('The settings', component('DashboardSettings', dashboardSettingsSchema)) },
  });
}
