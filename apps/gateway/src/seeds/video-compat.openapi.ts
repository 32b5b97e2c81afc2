import { z } from 'zod';
import type { ApiDocs } from '../docs/openapi.registry.js';
import { submitQuerySchema } from './video-compat.service.js';

/**
 * The documentation of the seeds' routes. Their errors carry FastAPI's `detail` beside ours:
 * `{"detail": "<message>", "error": {"code", "message"}}`.
 */
export function registerVideoCompatRoutes({ registry, component, json }: ApiDocs): void {
  const seedsError = component(
    'SeedsError',
    z.object({ detail: z.string(), error: z.object({ code: z.string(), message: z.string() }) }),
    'An error of the seeds\' routes: FastAPI\'s `detail` and our `error`',
  );
  const errors = (...statuses: number[]) => Object.fromEntries(statuses.map((status) => [status, json('Error', seedsError)]));
  const id = z.object({ id: z.uuid() });
  const upload = {
    required: true,
    content: { 'multipart/form-data': { schema: z.object({ file: z.string().meta({ format: 'binary', description: 'An MP4/MOV file' }) }) } },
  };
  const results = z.array(z.object({ frame_index: z.number().int(), result: z.record(z.string(), z.unknown()) }));
  const status = z.enum(['pending', 'running', 'completed', 'failed']);

  registry.registerPath({
    method: 'post',
    path: '/v1/video/submit',
    operationId: 'seedsSubmitVideo',
    tags: ['seeds'],
    summary: 'Submit a video (the seeds\' API)',
    description: 'A file without an `ftyp` box is `400 {"detail":"Invalid MP4 file"}`; nothing is stored or published.',
    request: { query: submitQuerySchema, body: upload },
    responses: { 200: json('Queued', z.object({ job_id: z.uuid() })), ...errors(400, 413, 415, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/video/process',
    operationId: 'seedsProcessVideo',
    tags: ['seeds'],
    summary: 'Submit and wait for the results (synchronous, through the same queue)',
    request: { query: submitQuerySchema, body: upload },
    responses: {
      200: json('The results', z.object({ job_id: z.uuid(), results, total_frames: z.number().int().nullable(), summary: z.record(z.string(), z.unknown()) })),
      ...errors(400, 413, 415, 422, 503, 504),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/video/status/{id}',
    operationId: 'seedsGetVideoStatus',
    tags: ['seeds'],
    summary: 'A job\'s status in the seeds\' words',
    request: { params: id },
    responses: {
      200: json('The status', z.object({ job_id: z.uuid(), status, progress: z.number(), created_at: z.string(), updated_at: z.string() })),
      ...errors(400, 404, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/video/results/{id}',
    operationId: 'seedsGetVideoResults',
    tags: ['seeds'],
    summary: 'A completed job\'s results (404 until completed)',
    request: { params: id },
    responses: {
      200: json(
        'The results',
        z.object({ job_id: z.uuid(), results, total_frames: z.number().int().nullable(), summary: z.record(z.string(), z.unknown()), created_at: z.string(), updated_at: z.string() }),
      ),
      ...errors(400, 404, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/worker/health',
    operationId: 'seedsGetWorkerHealth',
    tags: ['seeds'],
    summary: 'Whether any worker is alive, from the workers\' heartbeats',
    responses: { 200: json('Worker health', z.object({ alive: z.boolean(), last_heartbeat: z.string().nullable() })), ...errors(503) },
  });
}
