import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { defineTool } from '../tool.js';

/**
 * `noop`: the lifecycle of a job with no work in it, so the queue's own cost can be measured. With
 * `sleep_ms` it waits that long without using the CPU, standing for a call to an external service
 * (the I/O-bound pipeline of the scaling benchmark, P5).
 */
export const noopTool = defineTool({
  name: 'noop',
  version: '1.0.0',
  description: 'does nothing and never reads the video: for smoke tests and for measuring the queue itself; sleep_ms waits that long, standing for a call to an external service',
  params: z.strictObject({ sleep_ms: z.number().int().min(0).max(10_000).optional() }),
  readsInput: false,
  usesWorkDir: false,
  async run(ctx) {
    if (ctx.params.sleep_ms) await sleep(ctx.params.sleep_ms, undefined, { signal: ctx.signal });
    return { summary: {} };
  },
});
