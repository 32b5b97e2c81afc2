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
});
