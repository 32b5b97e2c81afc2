import { z } from 'zod';

/** Job and event ids are RFC 9562 UUIDs in their canonical text form. */
export const jobIdSchema = z.uuid();

export function isJobId(value: unknown): value is string {
  return jobIdSchema.safeParse(value).success;
}
