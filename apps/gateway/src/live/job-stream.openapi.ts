import { z } from 'zod';
import type { ApiDocs } from '../docs/openapi.registry.js';
import { jobIdParams } from '../jobs/jobs.openapi.js';

/** The documentation of one job's live updates (SSE; the WebSocket is described in words). */
export function registerJobStreamRoutes({ registry, errors }: ApiDocs): void {
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/stream',
    operationId: 'streamJob',
    tags: ['live'],
    summary: 'One job\'s live updates (Server-Sent Events)',
    description:
      '`status` (the snapshot) first, then `status` and `progress` events, and at last `completed`, `failed`, `cancelled` or `deleted` (the job was deleted meanwhile), after which the stream closes. ' +
      'Each event\'s `id` is the stream sequence it reflects; reconnect with `Last-Event-ID` to resume without a gap (an id past the job\'s last event resumes from its last event; ' +
      'resuming a job that has ended from its end is `204`, which stops an EventSource from reconnecting). ' +
      'Each open stream, like the live feed and a job\'s WebSocket, takes one of the key\'s `MAX_LIVE_STREAMS_PER_KEY` slots; one more is `429 TOO_MANY_STREAMS`. ' +
      'The same updates, in the seeds\' message shape `{job_id, status, current_frame, total_frames, percent}`, are sent over a WebSocket at `/v1/ws/jobs/{id}`, ' +
      'which authenticates its handshake the same way (`Authorization`, or the job\'s media link in `?token=`) and refuses a bad key, a bad id or another tenant\'s job with the JSON error and no upgrade.',
    request: { params: jobIdParams, headers: z.object({ 'Last-Event-ID': z.string().optional() }) },
    responses: {
      200: { description: 'An event stream', content: { 'text/event-stream': { schema: z.string() } } },
      204: { description: 'The job has ended and Last-Event-ID is at or past its end: nothing more will come' },
      ...errors(400, 404, 503),
    },
  });
}
