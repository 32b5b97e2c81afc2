import { systemViewSchema } from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';

export function registerSystemRoutes({ registry, component, errors, json }: ApiDocs): void {
  const system = component('System', systemViewSchema, 'Stream, consumers and projector lag, read now');
  registry.registerPath({
    method: 'get',
    path: '/v1/system',
    operationId: 'getSystem',
    tags: ['operations'],
    summary: 'Stream and consumer figures, projector lag',
    description:
      'The event stream\'s size and sequences; each durable consumer\'s backlog (`pending`), in-progress (`ack_pending`) ' +
      'and redeliveries; the projector\'s checkpoint and lag (stream last sequence minus checkpoint, asked from the jobs service).',
    responses: { 200: json('The figures', system), ...errors(503) },
  });
}
