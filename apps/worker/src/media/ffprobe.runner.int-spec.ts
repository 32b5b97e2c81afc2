import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseConfig, workerEnvSchema } from '@app/config';
import { ToolError, type FfprobeOutput } from '@app/tools';
import { ffmpeg, makeVideo, mediaDir } from '../../../../test/support/videos.js';
import { FfprobeRunner } from './ffprobe.runner.js';

/** The real ffprobe, through the runner and its memory-cap wrapper. */
describe('FfprobeRunner', () => {
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let clip = '';

  beforeAll(async () => {
    media = await mediaDir();
    clip = await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 1, width: 64, height: 48, fps: 5 });
  });

  afterAll(async () => {
    await media?.cleanup();
  });

  const probe = (env: Record<string, string>) =>
    new FfprobeRunner(parseConfig(workerEnvSchema, env)).probe({ path: clip, demuxer: 'mov', maxDurationSec: 60 }, new AbortController().signal).then(
      () => null,
      (error: unknown) => (error instanceof ToolError ? { code: error.code, permanent: error.permanent, message: error.message } : error),
    );

  it('reads a real video under its memory cap', async () => {
    expect(await probe({ FFMPEG_MEMORY_MB: '512' })).toBeNull();
  });

  it('shows each output to the check: the first before the packets are counted, then the counted one', async () => {
    const mkv = join(media.dir, 'clip.mkv');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=5', '-t', '1', '-c:v', 'mpeg4', mkv]);
    const seen: Array<string | undefined> = [];
    const check = (output: FfprobeOutput) => void seen.push(output.streams?.[0]?.nb_read_packets);
    const runner = new FfprobeRunner(parseConfig(workerEnvSchema, {}));
    const output = await runner.probe({ path: mkv, demuxer: 'matroska', maxDurationSec: 60 }, new AbortController().signal, check);
    expect(seen).toEqual([undefined, '5']);
    // A check that throws stops the probe there: the packets are never counted.
    seen.length = 0;
    const refuse = (o: FfprobeOutput) => {
      check(o);
      throw new Error('over a limit');
    };
    await expect(runner.probe({ path: mkv, demuxer: 'matroska', maxDurationSec: 60 }, new AbortController().signal, refuse)).rejects.toThrow('over a limit');
    expect(seen).toEqual([undefined]);
    expect(output.streams?.[0]?.nb_read_packets).toBe('5');
  });

  it.each([
    ['a binary that is not there', 'no-such-ffprobe'],
    ['a binary that may not be executed', 'not-executable'],
  ])('%s is a setup problem (TOOL_FAILED, retried), never the upload\'s fault', async (_, name) => {
    const path = join(media.dir, name);
    if (name === 'not-executable') await writeFile(path, '#!/bin/sh\n', { mode: 0o644 });
    for (const memory of ['512', '0']) {
      expect(await probe({ FFPROBE_PATH: path, FFMPEG_MEMORY_MB: memory })).toMatchObject({ code: 'TOOL_FAILED', permanent: false, message: expect.stringMatching(/^ffprobe could not run: /) });
    }
  });
});
