import { workerInfoSchema, workersResponseSchema } from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';

/** The documentation of GET /v1/workers. */
export function registerWorkersRoutes({ registry, component, errors, json }: ApiDocs): void {
  const worker = component('Worker', workerInfoSchema, 'A live worker, from its heartbeat in the registry');
  registry.registerPath({
    method: 'get',
    path: '/v1/workers',
    operationId: 'listWorkers',
    tags: ['operations'],
    summary: 'The live workers',
    description: 'Workers whose heartbeat is within its TTL, newest heartbeat first.',
    responses: { 200: json('The workers', workersResponseSchema.extend({ workers: worker.array() })), ...errors(503) },
  });
}
