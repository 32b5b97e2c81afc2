import { z } from 'zod';
import type { ApiDocs } from '../docs/openapi.registry.js';

export const healthReportSchema = z.object({
  status: z.enum(['ok', 'error']),
  checks: z.record(z.string(), z.object({ status: z.enum(['up', 'down']), error: z.string().optional(), ms: z.number() })),
});

export function registerOpsRoutes({ registry, component, json }: ApiDocs): void {
  const report = component('HealthReport', healthReportSchema);
  registry.registerPath({
    method: 'get',
    path: '/metrics',
    operationId: 'getMetrics',
    tags: ['operations'],
    summary: 'Prometheus metrics',
    description: 'HTTP traffic by route, jobs submitted by pipeline, live-feed clients, and the process (CPU, memory, event loop).',
    responses: { 200: { description: 'Prometheus text exposition format', content: { 'text/plain': { schema: z.string() } } } },
  });
  registry.registerPath({
    method: 'get',
    path: '/health/live',
    operationId: 'getLiveness',
    tags: ['operations'],
    summary: 'Liveness: the process answers',
    responses: { 200: json('Alive', z.object({ status: z.literal('ok') })) },
  });
  registry.registerPath({
    method: 'get',
    path: '/health/ready',
    operationId: 'getReadiness',
    tags: ['operations'],
    summary: 'Readiness: NATS answers',
    responses: { 200: json('Ready', report), 503: json('Not ready: a check is down', report) },
  });
}
