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
  it('lists the key frames of the video from its packets, in the source\'s own timeline, up to the duration limit', async () => {
    const runner = new FfprobeRunner(parseConfig(workerEnvSchema, {}));
    const never = new AbortController().signal;
    // 10 fps with a key frame every 7 frames, and B-frames (so the packets come in decode order), plus audio.
    const mkv = join(media.dir, 'gops.mkv');
    await ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-f', 'lavfi', '-i', 'sine', '-t', '3', '-c:v', 'libx264', '-preset', 'ultrafast',
      '-x264-params', 'keyint=7:min-keyint=7:scenecut=0:bframes=2', '-pix_fmt', 'yuv420p', '-c:a', 'aac', mkv,
    ]);
    // Matroska puts the video 23 ms after the audio's first (primed) sample: the key frames' times are the packets' own.
    const expected = [0.023, 0.723, 1.423, 2.123, 2.823];
    expect(await runner.keyframes({ path: mkv, demuxer: 'matroska', maxDurationSec: 60 }, never)).toEqual(expected);
    expect(await runner.keyframes({ path: mkv, demuxer: 'matroska', maxDurationSec: 2 }, never)).toEqual(expected.slice(0, 3));
    // MPEG-TS starts its clock at 1.4 s: still the packets' own times.
    const ts = join(media.dir, 'gops.ts');
    await ffmpeg(['-i', mkv, '-c', 'copy', '-f', 'mpegts', ts]);
    const times = await runner.keyframes({ path: ts, demuxer: 'mpegts', maxDurationSec: 60 }, never);
    expect(times).toHaveLength(5);
    times.forEach((t, i) => expect(t - times[0]!).toBeCloseTo(0.7 * i, 3));
    expect(times[0]).toBeGreaterThan(1.4);
    // AVI states no presentation times for H.264 with B-frames: no key frame there is a known time, so none is listed (the job is not split).
    const avi = join(media.dir, 'b-frames.avi');
    await ffmpeg(['-i', mkv, '-map', '0:v', '-c', 'copy', '-bsf:v', 'h264_mp4toannexb', '-f', 'avi', avi]);
    expect(await runner.keyframes({ path: avi, demuxer: 'avi', maxDurationSec: 60 }, never)).toEqual([]);
    // The upload is read as the container it was accepted as.
    await expect(runner.keyframes({ path: mkv, demuxer: 'mov', maxDurationSec: 60 }, never)).rejects.toMatchObject({ code: 'INVALID_MEDIA' });
  });
});
