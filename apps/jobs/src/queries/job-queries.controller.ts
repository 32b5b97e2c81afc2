import { Controller, Logger, UseInterceptors } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import type { z } from 'zod';
import {
  ErrorCode,
  getJobRequestSchema,
  jobEventsRequestSchema,
  JobQuery,
  listJobsRequestSchema,
  projectionRequestSchema,
  summarizeIssues,
  type RpcReply,
} from '@app/contracts';
import { RpcCorrelationInterceptor } from '@app/event-store';
import { JobQueriesService, QueryError } from './job-queries.service.js';

/**
 * The request/reply face of the jobs service. It validates what arrives, delegates, and always
 * answers with a result (`{ok,value}` or `{ok:false,error}`), never with a transport exception.
 */
@Controller()
@UseInterceptors(RpcCorrelationInterceptor)
export class JobQueriesController {
  private readonly logger = new Logger(JobQueriesController.name);

  constructor(private readonly queries: JobQueriesService) {}

  @MessagePattern(JobQuery.Get)
  get(@Payload() payload: unknown) {
    return this.handle(getJobRequestSchema, payload, async (req) => ({ job: await this.queries.get(req.job_id) }));
  }

  @MessagePattern(JobQuery.List)
  list(@Payload() payload: unknown) {
    return this.handle(listJobsRequestSchema, payload, (req) => this.queries.list(req));
  }

  @MessagePattern(JobQuery.Files)
  files(@Payload() payload: unknown) {
    return this.handle(getJobRequestSchema, payload, async (req) => ({ files: await this.queries.files(req.job_id) }));
  }

  @MessagePattern(JobQuery.Events)
  events(@Payload() payload: unknown) {
    return this.handle(jobEventsRequestSchema, payload, (req) => this.queries.events(req.job_id, req.after_seq, req.limit));
  }

  @MessagePattern(JobQuery.Projection)
  projection(@Payload() payload: unknown) {
    return this.handle(projectionRequestSchema, payload, () => this.queries.projection());
  }

  private async handle<S extends z.ZodType, T>(
    schema: S,
    payload: unknown,
    run: (request: z.output<S>) => Promise<T>,
  ): Promise<RpcReply<T>> {
    const parsed = schema.safeParse(payload);
    if (!parsed.success) {
      return { ok: false, error: { code: ErrorCode.BadRequest, message: summarizeIssues(parsed.error) } };
    }
    try {
      return { ok: true, value: await run(parsed.data) };
    } catch (error) {
      if (error instanceof QueryError) return { ok: false, error: { code: error.code, message: error.message } };
      this.logger.error(`query failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      return { ok: false, error: { code: ErrorCode.ServiceUnavailable, message: 'the jobs service could not answer' } };
    }
  }
}
