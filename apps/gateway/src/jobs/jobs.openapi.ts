import { z } from 'zod';
import {
  asOfPositionSchema,
  cancelOutcomeSchema,
  deleteOutcomeSchema,
  JOB_PRIORITIES,
  jobEventsPageSchema,
  jobsPageSchema,
  jobSubmittedSchema,
  jobViewSchema,
  redriveOutcomeSchema,
  storedEventViewSchema,
} from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';
import { eventsQuerySchema, getQuerySchema, listQuerySchema } from './jobs.controller.js';

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
  const submitted = component('JobSubmitted', jobSubmittedSchema);

  registry.registerPath({
    method: 'post',
    path: '/v1/jobs',
    operationId: 'submitJob',
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
      ...errors(400, 413, 415, 422, 499, 503, 507),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/jobs',
    operationId: 'listJobs',
    tags: ['jobs'],
    summary: 'List jobs',
    description: 'Newest first, keyset paging: pass `next_cursor` back as `cursor` for the next page.',
    request: { query: listQuerySchema },
    responses: {
      200: json('A page of jobs', jobsPageSchema.extend({ jobs: job.array() })),
      ...errors(400, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}',
    operationId: 'getJob',
    tags: ['jobs'],
    summary: 'One job, now or as of a point of its history',
    description:
      'Without `as_of`, the job as the read model shows it. With `as_of`, the job folded from its events in the stream up to a point: ' +
      '`N` (its N-th event), `seq:N` (its last event at or before stream sequence N) or an ISO-8601 time (its last event stored at or before it), ' +
      'with `as_of` in the answer saying where that is. A point before the job existed is 404 JOB_NOT_FOUND, an event number past its last 404 EVENT_NOT_FOUND, ' +
      'an unreadable point 400 INVALID_AS_OF.',
    request: {
      params: jobIdParams,
      query: getQuerySchema.extend({ as_of: getQuerySchema.shape.as_of.meta({ description: 'N, seq:N or an ISO-8601 time' }) }),
    },
    responses: {
      200: json('The job (with `as_of` when asked as of a point)', job.and(z.object({ as_of: asOfPositionSchema.optional() }))),
      ...errors(400, 404, 503),
    },
  });

  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/events',
    operationId: 'listJobEvents',
    tags: ['jobs'],
    summary: 'A job\'s events (its timeline)',
    description: 'Read from the stream, not the read model, in stream order. Page with `after_seq` = `next_after_seq`.',
    request: { params: jobIdParams, query: eventsQuerySchema },
    responses: {
      200: json('The events', jobEventsPageSchema.extend({ events: storedEvent.array() })),
      ...errors(400, 404, 503),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{id}/cancel',
    operationId: 'cancelJob',
    tags: ['jobs'],
    summary: 'Cancel a job',
    description:
      'Appends `JobCancelRequested`. A job that is not running (queued, or waiting for a retry) is cancelled at once with `JobCancelled` and never starts (`status: cancelled`). ' +
      'A running job\'s worker is told to stop: it kills the running tool (ffmpeg) and appends `JobCancelled` (`status: cancelling` until then; follow it on `GET /v1/jobs/{id}/stream`). ' +
      'Asking again while it stops gives the same answer. A job that has ended gets 409 JOB_ALREADY_ENDED.',
    request: { params: jobIdParams },
    responses: {
      202: json('The cancel is stored', component('CancelOutcome', cancelOutcomeSchema)),
      ...errors(400, 404, 409, 503),
    },
  });

  const deleted = component('DeleteOutcome', deleteOutcomeSchema);
  registry.registerPath({
    method: 'delete',
    path: '/v1/jobs/{id}',
    operationId: 'deleteJob',
    tags: ['jobs'],
    summary: 'Delete a job and its media',
    description:
      'Removes the job\'s upload, stored result and artifacts from the Object Store and appends `JobDeleted`. From then on every route of the job ' +
      '(`GET`, `?as_of=`, result, artifacts, video, media links, live updates) answers 404 JOB_NOT_FOUND, and it is no longer listed, run or redriven; ' +
      'its events stay readable for an admin key (`GET /v1/jobs/{id}/events`). A job that is not running is deleted at once (200, `status: deleted`). ' +
      'A running job is cancelled first (`JobCancelRequested` with `deletion: true`): 202 `status: deleting`, and the jobs service deletes it as soon as it has ended, ' +
      'after a restart too. Deleting again while it stops gives the same 202; once deleted, the job is 404 like any unknown job (the effect a repeated DELETE asks for is there). ' +
      'A key deletes its own tenant\'s jobs; an admin key any job. Another tenant\'s job is 404.',
    request: { params: jobIdParams },
    responses: {
      200: json('The job is deleted', deleted),
      202: json('The job is being stopped; it is deleted once it has ended', deleted),
      ...errors(400, 404, 503),
    },
  });

  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{id}/retry',
    operationId: 'redriveJob',
    tags: ['jobs'],
    summary: 'Retry (redrive) a failed or cancelled job',
    description:
      'Appends a `JobRedriven` work request, caused by the event that ended the job (its causation id): the job is queued again and runs as a new attempt, ' +
      'with a fresh attempt budget, and leaves the dead-letter list. A job that has not ended, or that completed, gets 409 JOB_NOT_RETRYABLE.',
    request: { params: jobIdParams },
    responses: {
      202: { ...json('The job is queued again', component('RedriveOutcome', redriveOutcomeSchema)), headers: z.object({ Location: z.string() }) },
      ...errors(400, 404, 409, 503),
    },
  });
}
