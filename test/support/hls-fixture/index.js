// @ts-check
/**
 * A test-only tool plugin: `hls-fixture` writes an HLS output with one raw ffmpeg command, in the
 * shape of the `hls` pipeline's contract (master.m3u8; per rendition hls-<height>p.m3u8 and one
 * fragmented MP4 hls-<height>p.mp4 addressed by byte ranges; hls-audio.m3u8 and hls-audio.mp4).
 * The gateway and dashboard tests of HLS serving load it by path (FRAMEWIRE_PLUGINS), so they test
 * the serving of real HLS files, whoever writes them.
 */
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const params = z.strictObject({
  heights: z.array(z.number().int().min(36).max(1080)).min(1).max(3).default([240, 360]),
  segment_seconds: z.number().min(1).max(10).default(2),
  /** Also a storyboard as the thumbnails pipeline writes one: storyboard.vtt naming tiles of sprite-001.jpg. */
  storyboard: z.boolean().default(false),
});

const CONTENT_TYPES = { '.m3u8': 'application/vnd.apple.mpegurl', '.mp4': 'video/mp4' };

const hlsFixture = {
  name: 'hls-fixture',
  version: '1.0.0',
  description: 'HLS renditions from one raw ffmpeg command (test fixture)',
  params,
  /** @param {any} ctx the ToolContext (see libs/tools/src/tool.ts) */
  async run(ctx) {
    /** @type {{ heights: number[]; segment_seconds: number; storyboard: boolean }} */
    const { heights, segment_seconds, storyboard } = ctx.params;
    const audio = Boolean(ctx.media?.hasAudio);
    const split = `[0:v]split=${heights.length}${heights.map((_, i) => `[s${i}]`).join('')};${heights.map((h, i) => `[s${i}]scale=-2:${h}[v${i}]`).join(';')}`;
    const streams = heights.map((h, i) => `v:${i},${audio ? 'agroup:aud,' : ''}name:${h}p`);
    if (audio) streams.push('a:0,agroup:aud,name:audio');
    await ctx.tools.ffmpeg([
      '-i', ctx.inputPath,
      '-filter_complex', split,
      ...heights.flatMap((_, i) => ['-map', `[v${i}]`]),
      ...(audio ? ['-map', '0:a:0', '-c:a', 'aac'] : []),
      '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p',
      '-force_key_frames', `expr:gte(t,n_forced*${segment_seconds})`, '-sc_threshold', '0',
      '-f', 'hls', '-hls_time', String(segment_seconds), '-hls_playlist_type', 'vod',
      '-hls_segment_type', 'fmp4', '-hls_flags', 'single_file+independent_segments',
      '-hls_segment_filename', join(ctx.workDir, 'hls-%v.mp4'),
      '-master_pl_name', 'master.m3u8',
      '-var_stream_map', streams.join(' '),
      join(ctx.workDir, 'hls-%v.m3u8'),
    ]);
    const files = (await readdir(ctx.workDir)).filter((f) => /^(master\.m3u8|hls-[\w-]+\.(m3u8|mp4))$/.test(f)).sort();
    for (const name of files) {
      const ext = /** @type {'.m3u8' | '.mp4'} */ (name.slice(name.lastIndexOf('.')));
      await ctx.artifacts.putFile(name, join(ctx.workDir, name), name === 'hls-audio.mp4' ? 'audio/mp4' : CONTENT_TYPES[ext]);
    }
    if (storyboard) {
      // Two 80x45 tiles side by side: the frames at 0 s and 1 s.
      await ctx.tools.ffmpeg(['-i', ctx.inputPath, '-vf', 'fps=1,scale=80:45,tile=2x1', '-frames:v', '1', join(ctx.workDir, 'sprite-001.jpg')]);
      const vtt = 'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nsprite-001.jpg#xywh=0,0,80,45\n\n00:00:01.000 --> 00:00:02.000\nsprite-001.jpg#xywh=80,0,80,45\n';
      await writeFile(join(ctx.workDir, 'storyboard.vtt'), vtt);
      await ctx.artifacts.putFile('sprite-001.jpg', join(ctx.workDir, 'sprite-001.jpg'), 'image/jpeg');
      await ctx.artifacts.putFile('storyboard.vtt', join(ctx.workDir, 'storyboard.vtt'), 'text/vtt');
    }
    return {
      summary: { renditions: heights.length },
      data: {
        hls: {
          master: 'master.m3u8',
          segment_seconds,
          renditions: heights.map((height) => ({ height, playlist: `hls-${height}p.m3u8`, file: `hls-${height}p.mp4` })),
          audio: audio ? { playlist: 'hls-audio.m3u8', file: 'hls-audio.mp4' } : null,
        },
      },
    };
  },
};

export default {
  name: 'framewire-test-hls-fixture',
  version: '1.0.0',
  tools: [hlsFixture],
  pipelines: [{ name: 'hls-fixture', description: hlsFixture.description, tools: ['hls-fixture'] }],
};
