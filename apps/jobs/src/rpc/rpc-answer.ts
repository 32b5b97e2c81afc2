import type { Logger } from '@nestjs/common';
import type { z } from 'zod';
import { ErrorCode, summarizeIssues, type RpcReply } from '@app/contracts';

/** A refusal with a stable code, answered to the requester as `{ok:false,error}`. */
export class QueryError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

/**
 * How every request/reply handler of the jobs service answers: validate what arrived, run, and reply
 * with a result (`{ok,value}` or `{ok:false,error}`), never with a transport exception.
 */
export async function answer<S extends z.ZodType, T>(
  logger: Logger,
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
    logger.error(`request failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return { ok: false, error: { code: ErrorCode.ServiceUnavailable, message: 'the jobs service could not answer' } };
  }
}
