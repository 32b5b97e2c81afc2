import { z } from 'zod';
import { JOB_PRIORITIES, jobPrioritySchema, jobViewSchema, storedEventViewSchema } from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';
import { eventsQuerySchema, listQuerySchema } from './jobs.controller.js';

export const jobIdParams = z.object({ id: z.uuid().meta({ description: 'The job id (a UUID)' }) });

/** The documentation of /v1/jobs, from the schemas the controller and the contracts validate with. */
export function registerJobsRoutes({ registry, component, errors, json }: ApiDocs): void {
  const job = component(
    'Job',
    // z.json() is recursive, which OpenAPI generators cannot unfold: any JSON value, said in words.
    jobViewSchema.extend({ result: z.unknown().meta({ description: 'The pipeline\'s JSON result (completed jobs), or null' }) }),
    'A job as the read model (or, before projection, its events) shows it',
  );
  const storedEvent = component('StoredEvent', storedEventViewSchema, 'One event of a job, with where the stream stored it');
  const submitted = component(
    'JobSubmitted',
    z.object({
      job_id: z.uuid(),
      status: z.literal('queued'),
      pipeline: z.string(),
      priority: jobPrioritySchema,
      submitted_at: z.string(),
    }),
  );

  registry.registerPath({
    method: 'post',
    path: '/v1/jobs',
    tags: ['jobs'],
    summary: 'Submit a video',
    description:
      'Streams the upload into the Object Store and appends `VideoSubmitted`. A rejected request publishes nothing and leaves no object. ' +
      'With `Idempotency-Key`, a repeat of the same request returns the same job with `Idempotent-Replayed: true`.',
    request: {
      headers: z.object({
        'Idempotency-Key': z.string().min(1).max(255).optional().meta({ description: '1-255 visible ASCII characters' }),
        'X-Request-Id': z.string().optional().meta({ description: 'Correlation id; echoed back, and carried by every event and log line of the job' }),
      }),
      body: {
        required: true,
        content: {
          'multipart/form-data': {
            schema: z.object({
              file: z.string().meta({ format: 'binary', description: 'The video (required)' }),
              pipeline: z.string().optional().meta({ description: 'Pipeline name; default `probe`' }),
              params: z.string().optional().meta({ description: 'JSON object of the pipeline\'s params' }),
              priority: z.enum(JOB_PRIORITIES).optional().meta({ description: 'Default `normal`' }),
            }),
          },
        },
      },
    },
    responses: {
      202: {
        ...json('Accepted: the job is queued', submitted),
        headers: z.object({ Location: z.string(), 'Idempotent-Replayed': z.literal('true').optional() }),
      },
      ...errors(400, 413, 415, 422, 499, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/jobs',
    tags: ['jobs'],
    summary: 'List jobs',
    description: 'Newest first, keyset paging: pass `next_cursor` back as `cursor` for the next page.',
    request: { query: listQuerySchema },
    responses: {
      200: json('A page of jobs', z.object({ jobs: z.array(job), next_cursor: z.string().nullable() })),
      ...errors(400, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}',
    tags: ['jobs'],
    summary: 'One job',
    request: { params: jobIdParams },
    responses: { 200: json('The job', job), ...errors(400, 404, 503) },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/events',
    tags: ['jobs'],
    summary: 'A job\'s events (its timeline)',
    description: 'Read from the stream, not the read model, in stream order. Page with `after_seq` = `next_after_seq`.',
    request: { params: jobIdParams, query: eventsQuerySchema },
    responses: {
      200: json('The events', z.object({ job_id: z.uuid(), events: z.array(storedEvent), next_after_seq: z.number().int().nullable() })),
      ...errors(400, 404, 503),
    },
  });
}
