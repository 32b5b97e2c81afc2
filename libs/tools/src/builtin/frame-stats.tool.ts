import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { parseMetadataPrint } from '../media/ffmpeg-progress.js';
import { defineTool, mediaOf, type FrameOutput } from '../tool.js';
import { filterPath } from './thumbnails.tool.js';
import { sampledProgress, samplingFilter, samplingParams, seconds } from './sampling.js';

export const frameStatsParams = z.strictObject({
  ...samplingParams,
  black_luma: z.number().min(0).max(255).default(24).describe('a frame whose mean luma (8-bit, 16 is video black) is at most this is black'),
  freeze_diff: z.number().min(0).max(255).default(0.5).describe('a frame that differs from the previous sample by at most this mean luma difference is frozen'),
});

/**
 * `frame-stats`: for each sampled frame, mean luma, black-frame and freeze detection, and a motion
 * score, from ffmpeg's `signalstats` in one pass. Motion and freeze compare each sample with the
 * one before it (so with frame_stride 1 they compare consecutive frames); the first sample has none.
 */
export const frameStatsTool = defineTool({
  name: 'frame-stats',
  version: '1.0.0',
  description: 'per sampled frame: mean luma, black and frozen frames, motion score (0 to 1)',
  params: frameStatsParams,
  async run(ctx) {
    const media = mediaOf(ctx);
    const sampling = { stride: ctx.params.frame_stride, maxFrames: ctx.params.max_frames };
    const printed = join(ctx.workDir, 'frame-stats.txt');
    await ctx.tools.ffmpeg(
      ['-i', ctx.inputPath, '-filter_complex', `[0:v]${samplingFilter(sampling)},format=yuv420p,signalstats,metadata=mode=print:file=${filterPath(printed)}[out]`, '-map', '[out]', '-f', 'null', '-'],
      { onProgress: sampledProgress(ctx, media, sampling) },
    );
    const samples = parseMetadataPrint(await readFile(printed, 'utf8'));
    const frames: FrameOutput[] = samples.map((sample, i) => {
      const luma = Number(sample.values['lavfi.signalstats.YAVG'] ?? NaN);
      const diff = i === 0 ? null : Number(sample.values['lavfi.signalstats.YDIF'] ?? NaN);
      return {
        frame_index: sample.frame * sampling.stride,
        timestamp: seconds(sample.ptsTime),
        mean_luma: round(luma, 2),
        black: luma <= ctx.params.black_luma,
        frozen: diff !== null && diff <= ctx.params.freeze_diff,
        motion: diff === null ? null : round(diff / 255, 4),
      };
    });
    const motions = frames.map((f) => f.motion).filter((m): m is number => typeof m === 'number');
    return {
      summary: {
        black_frame_count: frames.filter((f) => f.black).length,
        frozen_frame_count: frames.filter((f) => f.frozen).length,
        mean_motion: motions.length ? round(motions.reduce((a, b) => a + b, 0) / motions.length, 4) : null,
      },
      frames,
    };
  },
});

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}
