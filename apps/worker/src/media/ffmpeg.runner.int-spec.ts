import { copyFile, link, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseConfig, workerEnvSchema } from '@app/config';
import { ffmpeg, mediaDir } from '../../../../test/support/videos.js';
import { FfmpegRunner } from './ffmpeg.runner.js';
import type { MediaInput } from './media-input.js';

/** The real ffmpeg, through the runner, as a tool's command reaches it. */
describe('FfmpegRunner on the upload', () => {
  let media: Awaited<ReturnType<typeof mediaDir>>;
  /** Ten seconds at 10 fps: 100 frames. */
  let clip = '';
  const runner = new FfmpegRunner(parseConfig(workerEnvSchema, { FFMPEG_THREADS: '1' }));

  /** How many frames ffmpeg decodes of the upload with a tool's own timing options before its -i. */
  async function framesRead(timing: string[], maxDurationSec: number): Promise<number | null> {
    const input: MediaInput = { path: clip, demuxer: 'matroska', maxDurationSec };
    let frames: number | null = null;
    await runner.run([...timing, '-i', clip, '-map', '0:v', '-f', 'null', '-'], new AbortController().signal, (p) => (frames = p.frame ?? frames), input);
    return frames;
  }

  beforeAll(async () => {
    media = await mediaDir();
    clip = join(media.dir, 'ten-seconds.mkv');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-t', '10', '-c:v', 'mpeg4', clip]);
  });

  afterAll(async () => {
    await media?.cleanup();
  });

  it('reads no more of the upload than a tool\'s own -t or -to asks for', async () => {
    expect(await framesRead(['-t', '2'], 14_400)).toBe(20);
    expect(await framesRead(['-ss', '1', '-to', '3'], 14_400)).toBe(20);
  });

  it('reads no more than the duration limit, whatever the tool asks for', async () => {
    expect(await framesRead([], 3)).toBe(30);
    expect(await framesRead(['-t', '5'], 3)).toBe(30);
    expect(await framesRead(['-to', '5'], 3)).toBe(30);
  });

  it('reads a concat list of files beside it in the scratch directory, and refuses one that names the upload by any other path', async () => {
    // The worker's layout: the upload as <attempt>/input, the tool's files in <attempt>/0-tool.
    const attempt = join(media.dir, 'attempt');
    const toolDir = join(attempt, '0-tool');
    await mkdir(toolDir, { recursive: true });
    const input: MediaInput = { path: join(attempt, 'input'), demuxer: 'matroska', maxDurationSec: 14_400 };
    await copyFile(clip, input.path);
    await copyFile(clip, join(toolDir, 'part-a.mkv'));
    await copyFile(clip, join(toolDir, 'part-b.mkv'));
    const concat = async (listDir: string, lines: string[]) => {
      const list = join(listDir, `list-${lines.length}-${Math.random().toString(36).slice(2)}.txt`);
      await writeFile(list, `ffconcat version 1.0\n${lines.join('\n')}\n`);
      let frames: number | null = null;
      await runner.run(['-f', 'concat', '-i', list, '-map', '0:v', '-f', 'null', '-'], new AbortController().signal, (p) => (frames = p.frame ?? frames), input);
      return frames;
    };
    expect(await concat(toolDir, ["file 'part-a.mkv'", 'duration 10', "file 'part-b.mkv'"])).toBe(200);

    await symlink(input.path, join(toolDir, 'linked.mkv'));
    await link(input.path, join(toolDir, 'hard-linked.mkv'));
    await expect(concat(toolDir, ["file 'part-a.mkv'", "file 'linked.mkv'"])).rejects.toThrow(/names the upload/);
    await expect(concat(toolDir, ["file 'hard-linked.mkv'"])).rejects.toThrow(/names the upload/);
    await expect(concat(attempt, ["file 'input'"])).rejects.toThrow(/names the upload/);
    await expect(concat(toolDir, ["file '../input'"])).rejects.toThrow(/not a plain file name/);
    await expect(concat(toolDir, [`file '${input.path}'`])).rejects.toThrow(/not a plain file name/);
    await expect(concat(media.dir, ["file 'ten-seconds.mkv'"])).rejects.toThrow(/must be in the job's scratch directory/);
  });
});
