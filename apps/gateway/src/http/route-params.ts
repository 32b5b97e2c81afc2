import type { z } from 'zod';
import { artifactNameSchema, ErrorCode, jobIdSchema, summarizeIssues } from '@app/contracts';
import { ApiError } from './api-error.js';

/**
 * Checks for what comes in the path and the query, shared by every route: a malformed value is a
 * 400 with a code, before it can reach a subject, an object name or a query (never a 500).
 */

/** A job id is a UUID; anything else (wildcards, dots, traversal, SQL) is 400 INVALID_JOB_ID. */
export function parseJobId(id: string): string {
  if (!jobIdSchema.safeParse(id).success) throw new ApiError(ErrorCode.InvalidJobId, 'a job id is a UUID');
  return id.toLowerCase();
}

/** An artifact name is a plain file name (artifactNameSchema): no path, no "..", no control characters. */
export function parseArtifactName(name: string): string {
  const parsed = artifactNameSchema.safeParse(name);
  if (!parsed.success) throw new ApiError(ErrorCode.InvalidArtifactName, `invalid artifact name: ${summarizeIssues(parsed.error)}`);
  return parsed.data;
}

export function parseQuery<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new ApiError(ErrorCode.ValidationFailed, summarizeIssues(parsed.error));
  return parsed.data;
}
