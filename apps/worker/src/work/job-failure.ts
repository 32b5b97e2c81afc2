import { ErrorCode } from '@app/contracts';
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
