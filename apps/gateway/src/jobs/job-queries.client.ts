import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout, TimeoutError } from 'rxjs';
import type { z } from 'zod';
import {
  ErrorCode,
  getJobReplySchema,
  jobEventsReplySchema,
  jobFilesReplySchema,
  JobQuery,
  listJobsReplySchema,
  projectionReplySchema,
  type JobEventsRequest,
  type JobSubjects,
  type ListJobsRequest,
} from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { JOB_SUBJECTS, withCorrelation } from '@app/event-store';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';

export const JOBS_RPC = Symbol('JOBS_RPC');

/** Replies that the gateway passes on as client errors rather than as an outage. */
const CLIENT_ERROR_CODES = new Set<string>([ErrorCode.BadRequest, ErrorCode.InvalidCursor, ErrorCode.JobNotFound]);

/**
 * The gateway's side of the jobs service's request/reply API. Each request carries the HTTP
 * request's correlation id in its NATS headers, so the jobs service logs under the same id. A reply that does not come within
 * RPC_TIMEOUT_MS, or does not match its contract, is a 503: the caller learns quickly and can retry.
 */
@Injectable()
export class JobQueriesClient {
  private readonly logger = new Logger(JobQueriesClient.name);

  constructor(
    @Inject(JOBS_RPC) private readonly client: ClientProxy,
    @Inject(JOB_SUBJECTS) private readonly subjects: JobSubjects,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async get(jobId: string) {
    return (await this.send(JobQuery.Get, { job_id: jobId }, getJobReplySchema)).job;
  }

  async files(jobId: string) {
    return (await this.send(JobQuery.Files, { job_id: jobId }, jobFilesReplySchema)).files;
  }

  list(request: ListJobsRequest) {
    return this.send(JobQuery.List, request, listJobsReplySchema);
  }

  events(request: JobEventsRequest) {
    return this.send(JobQuery.Events, request, jobEventsReplySchema);
  }

  /** The projector's checkpoint, as the read model holds it. */
  projection() {
    return this.send(JobQuery.Projection, {}, projectionReplySchema);
  }

  private async send<S extends z.ZodType<{ ok: true; value: unknown } | { ok: false; error: { code: string; message: string } }>>(
    pattern: string,
    payload: unknown,
    schema: S,
  ): Promise<Extract<z.output<S>, { ok: true }>['value']> {
    let raw: unknown;
    try {
      raw = await firstValueFrom(this.client.send(this.subjects.rpc(pattern), withCorrelation(payload)).pipe(timeout(this.config.RPC_TIMEOUT_MS)));
    } catch (error) {
      const reason = error instanceof TimeoutError ? `no reply within ${this.config.RPC_TIMEOUT_MS} ms` : String((error as Error)?.message ?? error);
      this.logger.warn(`${pattern}: ${reason}`);
      throw new ApiError(ErrorCode.ServiceUnavailable, 'the jobs service is not answering; try again shortly', { 'Retry-After': '1' });
    }
    const reply = schema.safeParse(raw);
    if (!reply.success) {
      this.logger.error(`${pattern}: reply does not match the contract`);
      throw new ApiError(ErrorCode.ServiceUnavailable, 'the jobs service gave an unexpected reply');
    }
    const value = reply.data as { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };
    if (!value.ok) {
      if (CLIENT_ERROR_CODES.has(value.error.code)) throw new ApiError(value.error.code, value.error.message);
      throw new ApiError(ErrorCode.ServiceUnavailable, value.error.message, { 'Retry-After': '1' });
    }
    return value.value as Extract<z.output<S>, { ok: true }>['value'];
  }
}
