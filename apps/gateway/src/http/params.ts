import { z } from 'zod';
import { ErrorCode, jobIdSchema, summarizeIssues } from '@app/contracts';
import { ApiError } from './api-error.js';

/** A job id from a path: a UUID, in lower case. */
export function parseJobId(id: string): string {
  if (!jobIdSchema.safeParse(id).success) throw new ApiError(ErrorCode.InvalidJobId, 'a job id is a UUID');
  return id.toLowerCase();
}

export function parse<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError(ErrorCode.ValidationFailed, summarizeIssues(parsed.error));
  return parsed.data;
}
