// @ts-check
/**
 * A test-only tool plugin: `storyboard-fixture` writes a storyboard as the thumbnails pipeline's
 * does (storyboard.vtt, whose cues name tiles of sprite-001.jpg by `#xywh=`), with one raw ffmpeg
 * command. The gateway's tests of storyboard_url load it by path (FRAMEWIRE_PLUGINS), so they test
 * the serving of such files whoever writes them.
 */
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { z } from 'zod';

const storyboardFixture = {
  name: 'storyboard-fixture',
  version: '1.0.0',
  description: 'a storyboard (WebVTT naming sprite tiles) from one raw ffmpeg command (test fixture)',
  params: z.strictObject({}),
  /** @param {any} ctx the ToolContext (see libs/tools/src/tool.ts) */
  async run(ctx) {
    // Two 80x45 tiles side by side: the frames at 0 s and 1 s.
    await ctx.tools.ffmpeg(['-i', ctx.inputPath, '-vf', 'fps=1,scale=80:45,tile=2x1', '-frames:v', '1', join(ctx.workDir, 'sprite-001.jpg')]);
    const vtt = 'WEBVTT\n\n00:00:00.000 --> 00:00:01.000\nsprite-001.jpg#xywh=0,0,80,45\n\n00:00:01.000 --> 00:00:02.000\nsprite-001.jpg#xywh=80,0,80,45\n';
    await writeFile(join(ctx.workDir, 'storyboard.vtt'), vtt);
    await ctx.artifacts.putFile('sprite-001.jpg', join(ctx.workDir, 'sprite-001.jpg'), 'image/jpeg');
    await ctx.artifacts.putFile('storyboard.vtt', join(ctx.workDir, 'storyboard.vtt'), 'text/vtt');
    return { summary: { sprites: 1 } };
  },
};

export default {
  name: 'framewire-test-storyboard-fixture',
  version: '1.0.0',
  tools: [storyboardFixture],
  pipelines: [{ name: 'storyboard-fixture', description: storyboardFixture.description, tools: ['storyboard-fixture'] }],
};
