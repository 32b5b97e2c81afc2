import { z } from 'zod';
import { defineTool } from '../tool.js';

/** `noop`: the lifecycle of a job with no work in it, so the queue's own cost can be measured. */
export const noopTool = defineTool({
  name: 'noop',
  version: '1.0.0',
  description: 'does nothing and never reads the video: for smoke tests and for measuring the queue itself',
  params: z.strictObject({}),
  readsInput: false,
  async run() {
    return { summary: {} };
  },
});
