import { z } from 'zod';
import type { FfmpegProgress, MediaInfo, ToolContext } from '../tool.js';

/**
 * The seeds' sampling params, shared by every tool that looks at individual frames: frames
 * 0, stride, 2·stride, ... (in presentation order), at most max_frames of them.
 */
export const samplingParams = {
  frame_stride: z.number().int().min(1).max(1_000_000).default(30).describe('look at every frame_stride-th frame (0, stride, 2·stride, ...)'),
  max_frames: z.number().int().min(1).max(1000).default(100).describe('at most this many sampled frames'),
};

export interface Sampling {
  stride: number;
  maxFrames: number;
}

/**
 * The ffmpeg filters that pass exactly the sampled frames. `trim` ends the stream after the last
 * frame that can be sampled, so ffmpeg stops decoding there instead of reading the rest.
 */
export function samplingFilter({ stride, maxFrames }: Sampling): string {
  const lastSampled = stride * (maxFrames - 1);
  return `trim=end_frame=${lastSampled + 1},select='not(mod(n\\,${stride}))'`;
}

/** How many frames the sampling yields from a video of `frameCount` frames (null: unknown). */
export function expectedSamples({ stride, maxFrames }: Sampling, frameCount: number | null): number | null {
  if (frameCount === null) return null;
  return Math.min(maxFrames, Math.ceil(frameCount / stride));
}

/**
 * Progress of a tool whose first output receives one frame per sample: the k-th sample is frame
 * (k-1)·stride of the video.
 */
export function sampledProgress(ctx: ToolContext<unknown>, media: MediaInfo, sampling: Sampling) {
  const expected = expectedSamples(sampling, media.frameCount);
  return (progress: FfmpegProgress) => {
    if (progress.frame === null || progress.frame === 0) return;
    const current = (progress.frame - 1) * sampling.stride;
    const total = media.frameCount;
    ctx.progress.frames(total === null ? current : Math.min(current, total), total, expected ? Math.min(1, progress.frame / expected) : undefined);
  };
}

/** Seconds, rounded to the millisecond, as results show them. */
export function seconds(value: number | null | undefined): number {
  return value === null || value === undefined || !Number.isFinite(value) ? 0 : Math.round(value * 1000) / 1000;
}

/** `frame-000030.jpg`: artifact names that sort by frame index. */
export function frameName(prefix: string, index: number, extension: string): string {
  return `${prefix}-${String(index).padStart(6, '0')}.${extension}`;
}

/** Runs `task` over `items` with at most `limit` at a time; resolves in item order. */
export async function inParallel<T, R>(items: readonly T[], limit: number, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await task(items[index]!, index);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, lane));
  return results;
}
