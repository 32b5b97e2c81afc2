import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFile, mkdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ArtifactRef } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { findCutPoints, toMediaInfo, transcodeTool, type JoinPart, type SplitPart, type ToolContext, type ToolOutput } from '@app/tools';
import { ffmpeg, frameTimes, mediaDir } from '../../../test/support/videos.js';
import { FfmpegRunner } from './media/ffmpeg.runner.js';
import { FfprobeRunner } from './media/ffprobe.runner.js';
import type { Demuxer, MediaInput } from './media/media-input.js';

const run = promisify(execFile);

type TranscodeParams = ReturnType<typeof transcodeTool.params.parse>;

/** What ffprobe reads of an output: each stream's duration, frame count (decoded) and size. */
async function streamsOf(path: string) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-count_frames', '-print_format', 'json', '-show_entries', 'stream=codec_type,codec_name,width,height,start_time,duration,nb_read_frames,sample_rate', path]);
  const streams = (JSON.parse(stdout) as { streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; start_time: string; duration: string; nb_read_frames: string; sample_rate?: string }> }).streams;
  const video = streams.find((s) => s.codec_type === 'video')!;
  const audio = streams.find((s) => s.codec_type === 'audio') ?? null;
  return {
    video: { codec: video.codec_name, width: video.width!, height: video.height!, start: Number(video.start_time), duration: Number(video.duration), frames: Number(video.nb_read_frames) },
    audio: audio && { codec: audio.codec_name, start: Number(audio.start_time), duration: Number(audio.duration), sampleRate: Number(audio.sample_rate) },
  };
}

/** What ffmpeg complains about when it decodes the whole file: nothing for a sound one. */
async function decodeErrors(path: string): Promise<string> {
  const { stdout, stderr } = await run('ffmpeg', ['-v', 'error', '-nostdin', '-i', path, '-f', 'null', '-']);
  return stdout + stderr;
}

/**
 * The `transcode` tool's split support against its unsplit run, on real videos, through the worker's
 * real ffmpeg and ffprobe runners: each part runs in a scratch directory of its own (as on another
 * worker), its artifacts are copied to a store, and the join gets them downloaded elsewhere.
 */
describe('transcode split into parts and joined, against an unsplit run', () => {
  let media: Awaited<ReturnType<typeof mediaDir>>;
  const config = parseConfig(workerEnvSchema, { FFMPEG_THREADS: '1' });
  const ffmpegRunner = new FfmpegRunner(config);
  const ffprobeRunner = new FfprobeRunner(config);
  const never = new AbortController().signal;
  let scratch = 0;

  /** A fresh attempt directory with the upload in it as `input`, and the tool's directory: as the worker lays them out. */
  async function attempt(source: string, demuxer: Demuxer, params: TranscodeParams, artifacts: Map<string, string>) {
    const dir = join(media.dir, `attempt-${++scratch}`);
    const workDir = join(dir, '0-transcode');
    await mkdir(workDir, { recursive: true });
    const inputPath = join(dir, 'input');
    await copyFile(source, inputPath);
    const input: MediaInput = { path: inputPath, demuxer, maxDurationSec: 3600 };
    const progress: number[] = [];
    const ctx: ToolContext<TranscodeParams> = {
      jobId: 'job', attempt: 1, inputPath, workDir, params, results: {}, signal: never,
      media: toMediaInfo(await ffprobeRunner.probe(input, never)),
      progress: { frames: (current, total, done) => progress.push(done ?? (total ? current / total : 0)), fraction: (done) => progress.push(done) },
      tools: { ffmpeg: (args, options) => ffmpegRunner.run(args, never, options?.onProgress, input) },
      artifacts: {
        putFile: async (name, path, contentType): Promise<ArtifactRef> => {
          const stored = join(media.dir, `store-${scratch}-${name}`);
          await copyFile(path, stored);
          artifacts.set(name, stored);
          const bytes = await readFile(stored);
          return { name, bucket: 'test', objectName: stored, size: bytes.length, contentType, sha256: createHash('sha256').update(bytes).digest('hex') };
        },
      },
    };
    return { ctx, input, progress };
  }

  /** Splits `source` every `splitSeconds`, runs every part and the join, and the unsplit run; returns both outputs. */
  async function splitAndRun(source: string, demuxer: Demuxer, splitSeconds: number) {
    const params = transcodeTool.params.parse({ height: 240, split_seconds: splitSeconds });
    const split = transcodeTool.split!;
    expect(split.splitSeconds(params)).toBe(splitSeconds);

    const whole = new Map<string, string>();
    const unsplit = await attempt(source, demuxer, params, whole);
    const wholeOutput = await transcodeTool.run(unsplit.ctx);

    const keyframes = await ffprobeRunner.keyframes(unsplit.input, never);
    const parts = findCutPoints(keyframes, unsplit.ctx.media!.durationSec!, splitSeconds);
    const joinParts: JoinPart[] = [];
    for (const part of [...parts].reverse()) {
      const stored = new Map<string, string>();
      const { ctx, progress } = await attempt(source, demuxer, params, stored);
      await split.runPart(ctx, part);
      expect(progress.at(-1)).toBe(1);
      // Downloaded for the join somewhere else than its directory, as the worker may.
      const files = new Map<string, string>();
      const downloads = join(media.dir, `downloads-${scratch}`);
      await mkdir(downloads);
      for (const [name, path] of stored) {
        await copyFile(path, join(downloads, name));
        files.set(name, join(downloads, name));
      }
      joinParts.push({ index: part.index, files });
    }
    const joined = new Map<string, string>();
    const joining = await attempt(source, demuxer, params, joined);
    const joinOutput = await split.join(joining.ctx, joinParts);
    return { parts, keyframes, whole, joined, wholeOutput, joinOutput, media: unsplit.ctx.media! };
  }

  /** The joined rendition is the unsplit one: same frames at the same times, resolution, duration and audio, and decodes cleanly. */
  async function expectSameRendition(source: string, result: Awaited<ReturnType<typeof splitAndRun>>, hasAudio: boolean) {
    const { whole, joined, wholeOutput, joinOutput } = result;
    expect(joinOutput.summary).toEqual(wholeOutput.summary);
    const name = wholeOutput.summary['rendition'] as string;
    expect([...joined.keys()]).toEqual([name]);
    const [a, b] = [whole.get(name)!, joined.get(name)!];
    expect(dataWithoutSize(joinOutput)).toEqual(dataWithoutSize(wholeOutput));
    expect((joinOutput.data!['rendition'] as { size: number }).size).toBe((await stat(b)).size);

    const [unsplit, split] = [await streamsOf(a), await streamsOf(b)];
    // Every source frame once: as many as the source has, and as the unsplit run made.
    const sourceFrames = (await frameTimes(source)).length;
    expect(split.video.frames).toBe(sourceFrames);
    expect(split.video.frames).toBe(unsplit.video.frames);
    // At the same times.
    expect(await frameTimes(b)).toEqual(await frameTimes(a));
    expect([split.video.codec, split.video.width, split.video.height]).toEqual([unsplit.video.codec, unsplit.video.width, unsplit.video.height]);
    const frame = unsplit.video.duration / unsplit.video.frames;
    expect(Math.abs(split.video.duration - unsplit.video.duration)).toBeLessThanOrEqual(frame);
    expect(split.video.start).toBe(unsplit.video.start);
    if (hasAudio) {
      expect(split.audio).not.toBeNull();
      const audioFrame = 1024 / split.audio!.sampleRate;
      expect(split.audio!.codec).toBe('aac');
      // In sync: the audio ends within one AAC frame of the video (both counted from the file's
      // start, for a source whose audio starts before its video), and it is the unsplit run's audio.
      const end = (s: { start: number; duration: number }) => s.start + s.duration;
      expect(Math.abs(end(split.audio!) - end(split.video))).toBeLessThanOrEqual(audioFrame + 1e-6);
      expect([split.audio!.start, split.audio!.duration]).toEqual([unsplit.audio!.start, unsplit.audio!.duration]);
    } else {
      expect(split.audio).toBeNull();
    }
    expect(await decodeErrors(b)).toBe('');
    expect(await decodeErrors(a)).toBe('');
    // The faststart index comes first, as in the unsplit run.
    const bytes = await readFile(b);
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat'));
  }

  function dataWithoutSize(output: ToolOutput) {
    const { size: _size, ...rest } = output.data!['rendition'] as Record<string, unknown>;
    return rest;
  }

  beforeAll(async () => {
    media = await mediaDir();
  });

  afterAll(async () => {
    await media?.cleanup();
  });

  it('B-frames and open GOPs (a key frame every 48 frames), with audio: every part starts on a key frame and the join is the unsplit rendition', async () => {
    const source = join(media.dir, 'open-gop.mp4');
    await ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '8',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-x264-params', 'open-gop=1:bframes=3:keyint=48:min-keyint=48:scenecut=0', '-pix_fmt', 'yuv420p', '-c:a', 'aac', source,
    ]);
    const result = await splitAndRun(source, 'mov', 2);
    expect(result.keyframes).toEqual([0, 1.92, 3.84, 5.76, 7.68]);
    // Key frames further apart than the split: one part per key frame, and a last one shorter than a key-frame interval.
    expect(result.parts).toEqual([
      { index: 0, start: 0, end: 1.92 },
      { index: 1, start: 1.92, end: 3.84 },
      { index: 2, start: 3.84, end: 5.76 },
      { index: 3, start: 5.76, end: null },
    ]);
    await expectSameRendition(source, result, true);
  }, 60_000);

  it('variable frame rate without audio (a second of frames missing right before a cut): the same frames at the same times', async () => {
    const source = join(media.dir, 'vfr.mp4');
    // 30 fps with frames 45 to 74 dropped: timestamps jump from 1.467 s to 2.5 s. A key frame every 15 frames
    // kept, so one at 2.5 s, right after the gap, which is the key frame nearest to 2 s: a part starts there.
    await ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30', '-t', '8', '-vf', "select='not(between(n,45,74))'", '-fps_mode', 'vfr',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-x264-params', 'keyint=15:min-keyint=15:scenecut=0:bframes=2', '-pix_fmt', 'yuv420p', source,
    ]);
    const result = await splitAndRun(source, 'mov', 2);
    expect(result.parts.slice(0, 2)).toEqual([{ index: 0, start: 0, end: 2.5 }, { index: 1, start: 2.5, end: 4 }]);
    await expectSameRendition(source, result, false);
  }, 60_000);

  it('Matroska whose video starts after its audio, with B-frames: the parts join in sync with the audio', async () => {
    const source = join(media.dir, 'late-video.mkv');
    await ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '8',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-x264-params', 'keyint=25:min-keyint=25:scenecut=0:bframes=3', '-pix_fmt', 'yuv420p', '-c:a', 'aac', source,
    ]);
    const result = await splitAndRun(source, 'matroska', 2);
    expect(result.keyframes[0]).toBeGreaterThan(0);
    expect(result.media.startSec).toBe(0);
    await expectSameRendition(source, result, true);
  }, 60_000);

  it('MPEG-TS (its clock starting at 1.4 s) with a last part shorter than a key-frame interval', async () => {
    const source = join(media.dir, 'late-clock.ts');
    await ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '8.2',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-x264-params', 'keyint=50:min-keyint=50:scenecut=0:bframes=2', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-f', 'mpegts', source,
    ]);
    const result = await splitAndRun(source, 'mpegts', 2);
    expect(result.keyframes[0]).toBeGreaterThan(1.3);
    const last = result.parts.at(-1)!;
    expect(result.keyframes[0]! + result.media.durationSec! - last.start).toBeLessThan(2);
    await expectSameRendition(source, result, true);
  }, 60_000);

  it('a part in the middle shorter than a key-frame interval (two key frames 0.2 s apart, each nearest to a multiple): five frames, joined in place', async () => {
    const source = join(media.dir, 'close-key-frames.mp4');
    await ffmpeg([
      '-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000', '-t', '8',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-force_key_frames', '0,2.92,3.12,6', '-x264-params', 'keyint=1000:min-keyint=1000:scenecut=0:bframes=3',
      '-pix_fmt', 'yuv420p', '-c:a', 'aac', source,
    ]);
    const result = await splitAndRun(source, 'mov', 2);
    expect(result.keyframes).toEqual([0, 2.92, 3.12, 6]);
    expect(result.parts).toEqual([
      { index: 0, start: 0, end: 2.92 },
      { index: 1, start: 2.92, end: 3.12 },
      { index: 2, start: 3.12, end: 6 },
      { index: 3, start: 6, end: null },
    ]);
    await expectSameRendition(source, result, true);
  }, 60_000);
});
