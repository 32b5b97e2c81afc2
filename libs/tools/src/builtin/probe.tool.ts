import { z } from 'zod';
import { defineTool, mediaOf } from '../tool.js';

/** `probe`: container and stream metadata. The worker probes every input before its first tool, so this reports that. */
export const probeTool = defineTool({
  name: 'probe',
  version: '1.0.0',
  description: 'ffprobe: container and stream metadata (duration, size, fps, codec, frame count, bit rate, audio)',
  params: z.strictObject({}),
  async run(ctx) {
    const { details } = mediaOf(ctx);
    return {
      summary: { width: details.width, height: details.height, duration: details.duration, fps: details.fps, codec: details.codec },
      data: details,
    };
  },
});
