import { z } from 'zod';
import { workerInfoSchema } from '@app/worker-registry';
import type { ApiDocs } from '../docs/openapi.registry.js';

/** The documentation of GET /v1/workers. */
export function registerWorkersRoutes({ registry, component, errors, json }: ApiDocs): void {
  const worker = component('Worker', workerInfoSchema, 'A live worker, from its heartbeat in the registry');
  registry.registerPath({
    method: 'get',
    path: '/v1/workers',
    tags: ['operations'],
    summary: 'The live workers',
    description: 'Workers whose heartbeat is within its TTL, newest heartbeat first.',
    responses: { 200: json('The workers', z.object({ workers: z.array(worker) })), ...errors(503) },
  });
}
