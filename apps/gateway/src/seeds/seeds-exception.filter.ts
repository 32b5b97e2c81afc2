import { Catch } from '@nestjs/common';
import type { ErrorBody } from '@app/contracts';
import { ApiExceptionFilter } from '../http/api-exception.filter.js';

/**
 * Errors of the seeds' routes carry both shapes: the seeds' (FastAPI's) `{"detail": message}`, which
 * their clients read, and ours, `{"error": {"code", "message"}}`, so a client can match on the code.
 */
@Catch()
export class SeedsExceptionFilter extends ApiExceptionFilter {
  protected override shape(body: ErrorBody): unknown {
    return { detail: body.error.message, ...body };
  }
}
