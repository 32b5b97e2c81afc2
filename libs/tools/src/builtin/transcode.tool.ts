import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';
import { defineTool, mediaOf } from '../tool.js';

export const transcodeParams = z.strictObject({
  height: z.number().int().min(16).max(4320).default(360).describe('height of the rendition in pixels (made even); the width keeps the aspect ratio'),
  crf: z.number().int().min(0).max(51).default(23).describe('x264 constant rate factor: lower is better and larger'),
  preset: z.enum(['ultrafast', 'superfast', 'veryfast', 'faster', 'fast', 'medium']).default('veryfast').describe('x264 preset: speed against size'),
  audio_bitrate_kbps: z.number().int().min(32).max(512).default(128).describe('AAC bit rate'),
});

/**
 * `transcode`: an H.264/AAC MP4 rendition at the requested height, with the index at the front
 * (faststart) so players can start before the download ends. A video without audio gets none.
 */
export const transcodeTool = defineTool({
  name: 'transcode',
  version: '1.0.0',
  description: 'an H.264/AAC MP4 rendition at a requested height, with faststart',
  params: transcodeParams,
  async run(ctx) {
    const media = mediaOf(ctx);
    const height = ctx.params.height - (ctx.params.height % 2);
    const name = `rendition-${height}p.mp4`;
    const out = join(ctx.workDir, name);
    const args = ['-i', ctx.inputPath, '-map', '0:v:0', '-map', '0:a:0?', '-vf', `scale=-2:${height}`,
      '-c:v', 'libx264', '-preset', ctx.params.preset, '-crf', String(ctx.params.crf), '-pix_fmt', 'yuv420p'];
    if (media.hasAudio) args.push('-c:a', 'aac', '-b:a', `${ctx.params.audio_bitrate_kbps}k`);
    args.push('-movflags', '+faststart', '-f', 'mp4', out);
    await ctx.tools.ffmpeg(args, {
      onProgress: (p) => {
        if (p.frame !== null) ctx.progress.frames(p.frame, media.frameCount);
        else if (p.outTimeSec !== null && media.durationSec) ctx.progress.fraction(p.outTimeSec / media.durationSec);
      },
    });
    const artifact = await ctx.artifacts.putFile(name, out, 'video/mp4');
    const { size } = await stat(out);
    return {
      summary: { rendition: name },
      data: { rendition: { name: artifact.name, height, size, video_codec: 'h264', audio_codec: media.hasAudio ? 'aac' : null, faststart: true } },
    };
  },
});
