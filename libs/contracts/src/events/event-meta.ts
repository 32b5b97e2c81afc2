import { z } from 'zod';

/** Metadata every event carries, whatever its type and version. */
export const eventMetaShape = {
  eventId: z.uuid(),
  jobId: z.uuid(),
  occurredAt: z.iso.datetime({ offset: true }),
  correlationId: z.string().min(1).max(200),
  causationId: z.string().min(1).max(200).nullable(),
};

export interface EventMeta {
  eventId: string;
  jobId: string;
  occurredAt: string;
  correlationId: string;
  causationId: string | null;
}

/** An object in the NATS Object Store, referenced from events instead of inlined. */
export const objectRefSchema = z.object({
  bucket: z.string().min(1),
  objectName: z.string().min(1).max(512),
  size: z.number().int().nonnegative(),
  contentType: z.string().min(1).max(255),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
});
export type ObjectRef = z.infer<typeof objectRefSchema>;

export const jobErrorSchema = z.object({
  code: z.string().min(1).max(64),
  message: z.string().max(4000),
});
export type JobError = z.infer<typeof jobErrorSchema>;
