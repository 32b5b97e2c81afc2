import { Controller, Logger, UseInterceptors } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  deadLettersRequestSchema,
  getJobAsOfRequestSchema,
  getJobRequestSchema,
  jobEventsRequestSchema,
  jobFilesRequestSchema,
  JobQuery,
  listJobsRequestSchema,
  projectionRequestSchema,
} from '@app/contracts';
import { RpcCorrelationInterceptor } from '@app/rpc';
import { answer } from '../rpc/rpc-answer.js';
import { JobQueriesService } from './job-queries.service.js';

/**
 * The request/reply face of the jobs service's job queries. It validates what arrives (including the
 * caller's required scope), delegates, and always answers with a result.
 */
@Controller()
@UseInterceptors(RpcCorrelationInterceptor)
export class JobQueriesController {
  private readonly logger = new Logger(JobQueriesController.name);

  constructor(private readonly queries: JobQueriesService) {}

  @MessagePattern(JobQuery.Get)
  get(@Payload() payload: unknown) {
    return answer(this.logger, getJobRequestSchema, payload, async (req) => ({ job: await this.queries.get(req.job_id, req.scope) }));
  }

  @MessagePattern(JobQuery.GetAsOf)
  getAsOf(@Payload() payload: unknown) {
    return answer(this.logger, getJobAsOfRequestSchema, payload, (req) => this.queries.getAsOf(req.job_id, req.as_of, req.scope));
  }

  @MessagePattern(JobQuery.List)
  list(@Payload() payload: unknown) {
    return answer(this.logger, listJobsRequestSchema, payload, ({ scope, ...query }) => this.queries.list(query, scope));
  }

  @MessagePattern(JobQuery.Files)
  files(@Payload() payload: unknown) {
    return answer(this.logger, jobFilesRequestSchema, payload, async (req) => ({ files: await this.queries.files(req.job_id, req.scope) }));
  }

  @MessagePattern(JobQuery.Events)
  events(@Payload() payload: unknown) {
    return answer(this.logger, jobEventsRequestSchema, payload, (req) => this.queries.events(req.job_id, req.after_seq, req.limit, req.scope));
  }

  @MessagePattern(JobQuery.DeadLetters)
  deadLetters(@Payload() payload: unknown) {
    return answer(this.logger, deadLettersRequestSchema, payload, ({ scope, ...page }) => this.queries.deadLetters(page, scope));
  }

  /** Where the projector is; no job data, so no scope. */
  @MessagePattern(JobQuery.Projection)
  projection(@Payload() payload: unknown) {
    return answer(this.logger, projectionRequestSchema, payload, () => this.queries.projection());
  }
}
