import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req, Res } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  DEFAULT_TENANT,
  ErrorCode,
  EVENTS_LIMIT_DEFAULT,
  EVENTS_LIMIT_MAX,
  jobStatusSchema,
  LIST_LIMIT_DEFAULT,
  LIST_LIMIT_MAX,
} from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { ApiError } from '../http/api-error.js';
import { parseJobId, parseQuery } from '../http/query.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { readMultipart } from '../uploads/multipart-reader.js';
import { JobQueriesClient } from './job-queries.client.js';
import { SUBMIT_FIELDS, SubmitJobService, type SubmissionSource } from './submit-job.service.js';

const FIELD_BYTES = 64 * 1024;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,255}$/;

export const listQuerySchema = z.strictObject({
  status: jobStatusSchema.optional(),
  pipeline: z.string().trim().min(1).max(64).optional(),
  limit: z.coerce.number().int().min(1).max(LIST_LIMIT_MAX).default(LIST_LIMIT_DEFAULT),
  cursor: z.string().min(1).max(512).optional(),
});

export const eventsQuerySchema = z.strictObject({
  after_seq: z.coerce.number().int().min(0).default(0),
  limit: z.coerce.number().int().min(1).max(EVENTS_LIMIT_MAX).default(EVENTS_LIMIT_DEFAULT),
});

/** HTTP face of jobs: parse and validate, then hand over to the use case or the jobs service. */
@Controller('v1/jobs')
export class JobsController {
  constructor(
    private readonly submitJob: SubmitJobService,
    private readonly queries: JobQueriesClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Post()
  @HttpCode(202)
  async submit(@Req() req: Request, @Res({ passthrough: true }) res: Response) {
    const key = req.headers['idempotency-key'];
    if (key !== undefined && (typeof key !== 'string' || !IDEMPOTENCY_KEY.test(key))) {
      throw new ApiError(ErrorCode.InvalidIdempotencyKey, 'Idempotency-Key must be 1-255 visible ASCII characters');
    }
    const source: SubmissionSource = (sink, discard) =>
      readMultipart(req, 'file', SUBMIT_FIELDS, { fileBytes: this.config.MAX_UPLOAD_BYTES, fieldBytes: FIELD_BYTES }, sink, discard);
    const { replayed, ...body } = await this.submitJob.submit({
      source,
      tenant: DEFAULT_TENANT,
      idempotencyKey: key ?? null,
      correlationId: String(req.id),
    });
    res.location(`/v1/jobs/${body.job_id}`);
    if (replayed) res.setHeader('Idempotent-Replayed', 'true');
    return body;
  }

  @Get()
  async list(@Query() query: Record<string, unknown>) {
    const parsed = parseQuery(listQuerySchema, query);
    return this.queries.list(parsed);
  }

  @Get(':id')
  async get(@Param('id') id: string) {
    const job = await this.queries.get(parseJobId(id));
    if (!job) throw new ApiError(ErrorCode.JobNotFound, `no job ${id}`);
    return job;
  }

  @Get(':id/events')
  async events(@Param('id') id: string, @Query() query: Record<string, unknown>) {
    const jobId = parseJobId(id);
    const { after_seq, limit } = parseQuery(eventsQuerySchema, query);
    const page = await this.queries.events({ job_id: jobId, after_seq, limit });
    if (page.events.length === 0 && after_seq === 0) throw new ApiError(ErrorCode.JobNotFound, `no job ${id}`);
    return page;
  }
}
