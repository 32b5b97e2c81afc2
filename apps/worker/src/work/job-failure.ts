import { cleanText, ErrorCode, type JobError } from '@app/contracts';
import { ToolError } from '@app/tools';

/**
 * A failure with a stable code. Permanent failures (the input is bad) end the job at once;
 * transient ones (a tool crashed, the store was unreachable) use up an attempt and may be retried.
 */
export class JobFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly permanent: boolean,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = 'JobFailure';
  }

  static invalidMedia(message: string): JobFailure {
    return new JobFailure(ErrorCode.InvalidMedia, message, true);
  }

  /** Anything that is not a JobFailure is a transient worker error. */
  static from(error: unknown): JobFailure {
    if (error instanceof JobFailure) return error;
    if (error instanceof ToolError) return new JobFailure(error.code, error.message, error.permanent, { cause: error });
    const message = error instanceof Error ? error.message : String(error);
    return new JobFailure(ErrorCode.WorkerError, message, false, { cause: error });
  }
}

/** What an attempt stopped for time (a tool's timeout) or memory (a tool's cap, a crash) fails with. */
const RESOURCE_CODES: ReadonlySet<string> = new Set([ErrorCode.ToolTimeout, ErrorCode.ResourceLimit]);

/**
 * A tool killed for time or memory is transient once: the machine may have been busy, or the worker
 * restarted under it. When the attempt before this one (in the same run: a redrive starts afresh)
 * was stopped the same way, the input is what costs too much, and the failure is permanent,
 * RESOURCE_LIMIT. Any other failure is left as it is.
 */
export function escalateResourceFailure(failure: JobFailure, previousCode: string | null): JobFailure {
  if (failure.permanent || !RESOURCE_CODES.has(failure.code) || previousCode === null || !RESOURCE_CODES.has(previousCode)) return failure;
  return new JobFailure(ErrorCode.ResourceLimit, `${failure.message} (the attempt before was stopped for ${previousCode} too: not retried again)`, true, { cause: failure });
}

/**
 * The error a JobFailed event carries: code and message as clean text (a tool's or plugin's message,
 * ffmpeg's stderr cut anywhere, may hold a lone surrogate or NUL), within the event's limits, cut at
 * a code point boundary.
 */
export function jobErrorOf(failure: JobFailure): JobError {
  return {
    code: cleanText(failure.code, { oneLine: true, maxLength: 64 }) || ErrorCode.WorkerError,
    message: cleanText(failure.message, { maxLength: 4000 }),
  };
}
