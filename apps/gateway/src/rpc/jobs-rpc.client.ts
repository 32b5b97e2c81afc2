import { Inject, Injectable, Logger } from '@nestjs/common';
import type { ClientProxy } from '@nestjs/microservices';
import { firstValueFrom, timeout, TimeoutError } from 'rxjs';
import type { z } from 'zod';
import { ErrorCode, isErrorCode, type JobSubjects } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { JOB_SUBJECTS, NatsAvailability } from '@app/nats';
import { withCorrelation } from '@app/rpc';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';

export const JOBS_RPC = Symbol('JOBS_RPC');

/**
 * Replies that the gateway passes on with their own code rather than as an outage: the client
 * errors, and JOB_HISTORY_UNREADABLE (a 503 that retrying soon does not cure, so without Retry-After).
 */
const PASSED_ON_CODES: ReadonlySet<ErrorCode> = new Set([
  ErrorCode.BadRequest,
  ErrorCode.InvalidCursor,
  ErrorCode.JobNotFound,
  ErrorCode.InvalidAsOf,
  ErrorCode.EventNotFound,
  ErrorCode.JobAlreadyEnded,
  ErrorCode.JobNotRetryable,
  ErrorCode.JobHistoryUnreadable,
  ErrorCode.WebhookNotFound,
  ErrorCode.WebhookDeliveryNotFound,
  ErrorCode.WebhookUrlForbidden,
  ErrorCode.InvalidWebhookUrl,
  ErrorCode.InvalidReplayFrom,
  ErrorCode.WebhookDisabled,
  ErrorCode.Forbidden,
]);

type Reply = { ok: true; value: unknown } | { ok: false; error: { code: string; message: string } };

/**
 * The gateway's side of the jobs service's request/reply API. Each request carries the HTTP
 * request's correlation id in its NATS headers, so the jobs service logs under the same id. A reply that does not come within
 * RPC_TIMEOUT_MS, or does not match its contract, is a 503: the caller learns quickly and can retry.
 * While the gateway's NATS connection is down nothing is sent: the 503 comes at once, so a request
 * that needs the jobs service (a key's first verification included) never waits out the timeout.
 */
@Injectable()
export class JobsRpcClient {
  private readonly logger = new Logger(JobsRpcClient.name);

  constructor(
    @Inject(JOBS_RPC) private readonly client: ClientProxy,
    @Inject(JOB_SUBJECTS) private readonly subjects: JobSubjects,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly nats: NatsAvailability,
  ) {}

  /** @param timeoutMs how long to wait for the reply (default RPC_TIMEOUT_MS) */
  async send<S extends z.ZodType<Reply>>(pattern: string, payload: unknown, schema: S, timeoutMs = this.config.RPC_TIMEOUT_MS): Promise<Extract<z.output<S>, { ok: true }>['value']> {
    if (!this.nats.available) {
      throw new ApiError(ErrorCode.ServiceUnavailable, 'NATS is unreachable; try again shortly', { 'Retry-After': '1' });
    }
    let raw: unknown;
    try {
      raw = await firstValueFrom(this.client.send(this.subjects.rpc(pattern), withCorrelation(payload)).pipe(timeout(timeoutMs)));
    } catch (error) {
      const reason = error instanceof TimeoutError ? `no reply within ${timeoutMs} ms` : String((error as Error)?.message ?? error);
      this.logger.warn(`${pattern}: ${reason}`);
      throw new ApiError(ErrorCode.ServiceUnavailable, 'the jobs service is not answering; try again shortly', { 'Retry-After': '1' });
    }
    const reply = schema.safeParse(raw);
    if (!reply.success) {
      this.logger.error(`${pattern}: reply does not match the contract`);
      throw new ApiError(ErrorCode.ServiceUnavailable, 'the jobs service gave an unexpected reply');
    }
    const value = reply.data as Reply;
    if (!value.ok) {
      if (isErrorCode(value.error.code) && PASSED_ON_CODES.has(value.error.code)) throw new ApiError(value.error.code, value.error.message);
      throw new ApiError(ErrorCode.ServiceUnavailable, value.error.message, { 'Retry-After': '1' });
    }
    return value.value as Extract<z.output<S>, { ok: true }>['value'];
  }
}
