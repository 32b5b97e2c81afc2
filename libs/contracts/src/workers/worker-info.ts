import { z } from 'zod';

/**
 * What a worker announces about itself in the worker registry (its heartbeat); the same shape is
 * listed by GET /v1/workers.
 */
export const workerInfoSchema = z.object({
  worker_id: z.string(),
  host: z.string(),
  pid: z.number().int(),
  concurrency: z.number().int().positive(),
  in_flight: z.array(z.string()),
  pipelines: z.array(z.string()),
  started_at: z.string(),
  last_heartbeat: z.string(),
});
export type WorkerInfo = z.infer<typeof workerInfoSchema>;

/** `GET /v1/workers`: the live workers, newest heartbeat first. */
export const workersResponseSchema = z.object({ workers: z.array(workerInfoSchema) });
export type WorkersResponse = z.infer<typeof workersResponseSchema>;
