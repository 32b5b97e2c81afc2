import type { z } from 'zod';
import { ErrorCode, jobIdSchema, summarizeIssues } from '@app/contracts';
import { ApiError } from './api-error.js';

/** Validates a query string (or any input) against `schema`; a mismatch is a 400 VALIDATION_FAILED. */
export function parseQuery<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError(ErrorCode.ValidationFailed, summarizeIssues(parsed.error));
  return parsed.data;
}

/** A job id from the path, lower-cased; anything but a UUID is a 400 INVALID_JOB_ID. */
export function parseJobId(id: string): string {
  if (!jobIdSchema.safeParse(id).success) throw new ApiError(ErrorCode.InvalidJobId, 'a job id is a UUID');
  return id.toLowerCase();
}
