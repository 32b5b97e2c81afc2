import { z } from 'zod';
import { jobChangeSchema } from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';
import { liveQuerySchema } from './live.controller.js';

export function registerLiveRoutes({ registry, component, errors }: ApiDocs): void {
  const change = component('JobChange', jobChangeSchema, 'The `data` of each `job` event of the live feed');
  registry.registerPath({
    method: 'get',
    path: '/v1/stream/jobs',
    operationId: 'streamJobChanges',
    tags: ['live'],
    summary: 'Live feed of every job\'s changes (Server-Sent Events)',
    description:
      'A `text/event-stream`. First `event: ready` (the feed is live: load GET /v1/jobs now and miss nothing), then one ' +
      '`event: job` per stored event with `id:` its stream sequence and `data:` a JobChange; a comment every 15 s. ' +
      'Only events JetStream stored reach the feed. Drop a change whose `seq` is not above the row\'s `last_seq`. ' +
      'Each open feed takes one of the key\'s `MAX_LIVE_STREAMS_PER_KEY` live-stream slots; one more is `429 TOO_MANY_STREAMS`.',
    request: { query: liveQuerySchema },
    responses: {
      200: {
        description: 'The event stream; each `data:` line of a `job` event is a JobChange',
        content: { 'text/event-stream': { schema: z.string().meta({ description: 'SSE frames' }) }, 'application/json': { schema: change } },
      },
      ...errors(400, 503),
    },
  });
}
