import { join } from 'node:path';
import { z } from 'zod';
import { readMetadataPrint, type PrintedFrame } from '../media/ffmpeg-progress.js';
import { defineTool, mediaOf } from '../tool.js';
import { filterPath } from './thumbnails.tool.js';
import { frameName, seconds } from './sampling.js';

export const scenesParams = z.strictObject({
  scene_threshold: z.number().gt(0).lt(1).default(0.3).describe('a cut is a frame whose scene score (0 to 1) is above this'),
  max_scenes: z.number().int().min(1).max(500).default(200).describe('report at most this many cuts'),
  thumbnail_width: z.number().int().min(16).max(3840).default(320).describe('width of each thumbnail in pixels; the height keeps the aspect ratio'),
});

/**
 * `scenes`: scene cuts, from ffmpeg's scene score (the `select` filter's `scene`), each with its
 * timestamp and a JPEG of its first frame. One pass: every frame's score is printed (so each cut
 * has its real frame index), and the frames above the threshold become keyframe thumbnails. The
 * printed scores (a line or two per frame of the video) are read as a stream, keeping only the cuts.
 */
export const scenesTool = defineTool({
  name: 'scenes',
  version: '1.0.0',
  description: 'scene cuts above a threshold, with timestamps and a keyframe thumbnail for each',
  params: scenesParams,
  async run(ctx) {
    const media = mediaOf(ctx);
    const printed = join(ctx.workDir, 'scenes.txt');
    const threshold = ctx.params.scene_threshold;
    const graph =
      `[0:v]select='gte(scene\\,0)',metadata=mode=print:key=lavfi.scene_score:file=${filterPath(printed)},split=2[all][cand];` +
      `[cand]metadata=mode=select:key=lavfi.scene_score:value=${threshold}:function=greater,scale=${ctx.params.thumbnail_width}:-2[cuts]`;
    await ctx.tools.ffmpeg(
      ['-i', ctx.inputPath, '-filter_complex', graph,
        '-map', '[all]', '-f', 'null', '-',
        '-map', '[cuts]', '-fps_mode', 'passthrough', '-frames:v', String(ctx.params.max_scenes), '-q:v', '3', join(ctx.workDir, 'scene-%06d.jpg')],
      {
        onProgress: (p) => {
          if (p.frame !== null) ctx.progress.frames(p.frame, media.frameCount);
        },
      },
    );
    const cuts: PrintedFrame[] = [];
    let above = 0;
    await readMetadataPrint(printed, (frame) => {
      if (!(Number(frame.values['lavfi.scene_score']) > threshold)) return;
      above++;
      if (cuts.length < ctx.params.max_scenes) cuts.push(frame);
    });
    const scenes = [];
    for (const [i, cut] of cuts.entries()) {
      const name = frameName('scene', cut.frame, 'jpg');
      await ctx.artifacts.putFile(name, join(ctx.workDir, `scene-${String(i + 1).padStart(6, '0')}.jpg`), 'image/jpeg');
      scenes.push({ frame_index: cut.frame, timestamp: seconds(cut.ptsTime), score: round(Number(cut.values['lavfi.scene_score'])), keyframe: name });
    }
    return {
      summary: { scene_cut_count: scenes.length },
      data: { threshold, cuts: scenes, truncated: above > scenes.length },
    };
  },
});

function round(value: number): number {
  return Math.round(value * 10_000) / 10_000;
}
