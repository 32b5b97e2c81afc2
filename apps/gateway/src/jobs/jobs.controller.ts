import { Controller, Delete, Get, HttpCode, Inject, Param, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  ErrorCode,
  EVENTS_LIMIT_DEFAULT,
  EVENTS_LIMIT_MAX,
  jobStatusSchema,
  LIST_LIMIT_DEFAULT,
  LIST_LIMIT_MAX,
} from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { ApiError } from '../http/api-error.js';
import { ClientAddresses } from '../http/client-address.js';
import { parseJobId, parseQuery } from '../http/route-params.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { UploadSlots } from '../limits/upload-slots.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';
import { readMultipart } from '../uploads/multipart-reader.js';
import { JobCommandsClient } from './job-commands.client.js';
import { JobQueriesClient } from './job-queries.client.js';
import { SUBMIT_FIELDS, SubmitJobService, type SubmissionSource } from './submit-job.service.js';

const FIELD_BYTES = 64 * 1024;
/** Room for the multipart framing and the text fields around the file, when judging Content-Length. */
const MULTIPART_OVERHEAD_BYTES = 1024 * 1024;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

/** `?limit=&cursor=`: keyset paging, as every list of the API does it. */
export const pageQueryShape = {
  limit: z.coerce.number().int().min(1).max(LIST_LIMIT_MAX).default(LIST_LIMIT_DEFAULT),
  cursor: z.string().min(1).max(512).optional(),
};

export const listQuerySchema = z.strictObject({
  status: jobStatusSchema.optional(),
  pipeline: z.string().trim().min(1).max(64).optional(),
  ...pageQueryShape,
});

export const getQuerySchema = z.object({
  /** A point of the job's history (N, seq:N or an ISO time): the job as it was then, folded from the stream. */
  as_of: z.string().min(1).max(64).optional(),
});

export const eventsQuerySchema = z.strictObject({
  after_seq: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(EVENTS_LIMIT_MAX).default(EVENTS_LIMIT_DEFAULT),
});

/**
 * HTTP face of jobs: parse and validate, then hand over to the use case or the jobs service. Every
 * route acts for the request's principal (set by the auth guard): it submits as the principal's
 * tenant and reads through JobQueriesClient, which scopes every read to what the principal may see.
 */
@Controller('v1/jobs')
@UseGuards(NatsAvailableGuard)
export class JobsController {
  constructor(
    private readonly submitJob: SubmitJobService,
    private readonly queries: JobQueriesClient,
    private readonly commands: JobCommandsClient,
    private readonly uploads: UploadSlots,
    private readonly addresses: ClientAddresses,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Post()
  @HttpCode(202)
  async submit(@CurrentPrincipal() principal: Principal, @Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const key = req.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
      throw new ApiError(ErrorCode.InvalidIdempotencyKey, 'Idempotency-Key must be 1-255 visible ASCII characters');
    }
    const declared = Number(req.headers['content-length'] ?? Number.NaN);
    if (declared > this.config.MAX_UPLOAD_BYTES + MULTIPART_OVERHEAD_BYTES) {
      throw new ApiError(ErrorCode.PayloadTooLarge, `the request is larger than the ${this.config.MAX_UPLOAD_BYTES}-byte upload limit`);
    }
    await this.submitJob.assertRoomFor(declared, FIELD_BYTES);
    const release = this.uploads.acquire(principal, this.addresses.of(req));
    try {
      const source: SubmissionSource = (sink, discard) =>
        readMultipart(req, 'file', SUBMIT_FIELDS, { fileBytes: this.config.MAX_UPLOAD_BYTES, fieldBytes: FIELD_BYTES }, sink, discard);
      const { replayed, ...body } = await this.submitJob.submit({
        source,
        tenant: principal.tenant,
        idempotencyKey: key ?? null,
        correlationId: String(req.id),
      });
      res.location(`/v1/jobs/${body.job_id}`);
      if (replayed) res.setHeader('Idempotent-Replayed', 'true');
      return body;
    } finally {
      release();
    }
  }

  @Get()
  async list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    return this.queries.list(principal, parseQuery(listQuerySchema, query));
  }

  @Get(':id')
  async get(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Query() query: Record<string, unknown>) {
    const { as_of } = parseQuery(getQuerySchema, query);
    if (as_of !== undefined) {
      const { job, as_of: position } = await this.queries.getAsOf(principal, { job_id: parseJobId(id), as_of });
      return { ...job, as_of: position };
    }
    return this.queries.requireVisible(principal, parseJobId(id));
  }

  @Get(':id/events')
  async events(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Query() query: Record<string, unknown>) {
    const jobId = parseJobId(id);
    const { after_seq, limit } = parseQuery(eventsQuerySchema, query);
    // An unknown job and another tenant's job are the same 404 JOB_NOT_FOUND, answered by the jobs service.
    return this.queries.events(principal, { job_id: jobId, after_seq, limit });
  }

  /**
   * Stops a job: a queued one at once (it never starts), a running one by its worker, which kills its
   * tools and appends JobCancelled. 409 JOB_ALREADY_ENDED once the job has ended.
   */
  @Post(':id/cancel')
  @HttpCode(202)
  cancel(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.commands.cancel(principal, parseJobId(id));
  }

  /**
   * Deletes a job: its upload, result and artifacts leave the Object Store and JobDeleted is appended;
   * from then on every route of the job answers 404 JOB_NOT_FOUND (an admin still reads its events).
   * 200 `deleted` when done; 202 `deleting` for a running job, which is stopped first and deleted as
   * soon as it has ended. A job already deleted is 404, like every other route of it.
   */
  @Delete(':id')
  async delete(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Res({ passthrough: true }) res: Response) {
    const outcome = await this.commands.delete(principal, parseJobId(id));
    res.status(outcome.status === 'deleted' ? 200 : 202);
    return outcome;
  }

  /** Runs a failed or cancelled job again as a new attempt (a redrive). 409 JOB_NOT_RETRYABLE otherwise. */
  @Post(':id/retry')
  @HttpCode(202)
  retry(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Res({ passthrough: true }) res: Response) {
    const jobId = parseJobId(id);
    res.location(`/v1/jobs/${jobId}`);
    return this.commands.redrive(principal, jobId);
  }
}
