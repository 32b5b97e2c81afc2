import { z } from 'zod';

/**
 * The pipelines a client may ask for, with the schema of their params. The gateway validates a
 * submission against this before anything is uploaded or published; the worker runs the pipeline.
 * Unknown params are rejected (strict objects), so a typo never passes silently.
 */
export const pipelineCatalog = {
  probe: {
    description: 'ffprobe: container and stream metadata (duration, size, fps, codec, frame count, bit rate)',
    params: z.strictObject({}),
  },
  noop: {
    description:
      'does nothing and never reads the video: for smoke tests and for measuring the queue itself; sleep_ms waits that long, standing for a call to an external service',
    params: z.strictObject({ sleep_ms: z.number().int().min(0).max(10_000).optional() }),
  },
} as const satisfies Record<string, { description: string; params: z.ZodType }>;

export type PipelineName = keyof typeof pipelineCatalog;
export const DEFAULT_PIPELINE: PipelineName = 'probe';

export function isPipelineName(name: string): name is PipelineName {
  return Object.hasOwn(pipelineCatalog, name);
}
