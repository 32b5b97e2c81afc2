import { execFile } from 'node:child_process';
import { copyFile, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { parse, types } from 'hls-parser';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { createLogger } from '@app/observability';
import { toMediaInfo, ToolCatalog, type JoinPart, type SplitPart, type Tool, type ToolContext, type ToolOutput } from '@app/tools';
import { freshName, freshNamespace, TEST_NATS_URL, type TestNamespace, IN_PROCESS_OPS } from '../../../test/support/services.js';
import { ffmpeg, frameTimes, mediaDir } from '../../../test/support/videos.js';
import { downloadObject, runWorkerJob } from '../../../test/support/worker-jobs.js';
import { FfmpegRunner } from './media/ffmpeg.runner.js';
import { FfprobeRunner } from './media/ffprobe.runner.js';
import type { MediaInput } from './media/media-input.js';
import { ObjectStoreArtifactWriter } from './work/artifact-writer.js';
import { WorkerModule } from './worker.module.js';

const run = promisify(execFile);

interface HlsData {
  segment_seconds: number;
  renditions: Array<{ height: number; width: number; bandwidth: number; average_bandwidth: number; codecs: string; frame_rate: number | null; playlist: string; file: string; segment_count: number }>;
  audio: { playlist: string; file: string; codecs: string } | null;
}

/**
 * The cut points a split job would use, found here with ffprobe: the key frame nearest each multiple
 * of `splitSeconds` (the worker's own finder comes with the orchestration of issue #19), as parts.
 */
async function partsAt(path: string, splitSeconds: number): Promise<SplitPart[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0', path]);
  const rows = stdout.split('\n').filter((l) => l.trim() !== '');
  const keys = rows.filter((l) => /,K/.test(l)).map((l) => Number(l.split(',')[0]));
  const end = Math.max(...rows.map((l) => Number(l.split(',')[0])));
  const cuts: number[] = [];
  for (let at = splitSeconds; at < end; at += splitSeconds) {
    const nearest = keys.reduce((best, k) => (Math.abs(k - at) < Math.abs(best - at) ? k : best));
    if (nearest > 0 && !cuts.includes(nearest)) cuts.push(nearest);
  }
  const starts = [0, ...cuts];
  return starts.map((start, index) => ({ index, start, end: starts[index + 1] ?? null }));
}

/** Each video packet's presentation time and whether it is a key frame, in presentation order. */
async function packets(path: string) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,duration_time,flags', '-of', 'csv=p=0', path], { maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [pts, duration, flags] = l.split(',');
      return { pts: Number(pts), duration: Number(duration), key: flags!.includes('K') };
    })
    .sort((a, b) => a.pts - b.pts);
}

/** The audio stream's end (its last packet's time plus length) and the length of one of its frames. */
async function audioEnd(path: string) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'packet=pts_time,duration_time', '-of', 'csv=p=0', path], { maxBuffer: 64 * 1024 * 1024 });
  const rows = stdout.split('\n').filter((l) => l.trim() !== '').map((l) => l.split(',').map(Number) as [number, number]);
  const [pts, duration] = rows.reduce((a, b) => (b[0] > a[0] ? b : a));
  return { end: pts + duration, frame: duration };
}

async function streamsOf(path: string) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_entries', 'stream=codec_type,codec_name,width,height', path]);
  return (JSON.parse(stdout) as { streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number }> }).streams;
}

/** What ffmpeg says when it decodes every stream of a file to the end: nothing, for a sound one. */
async function decodeErrors(path: string): Promise<string> {
  const { stdout, stderr } = await run('ffmpeg', ['-v', 'error', '-nostdin', '-i', path, '-map', '0', '-f', 'null', '-']);
  return stdout + stderr;
}

async function mediaPlaylistOf(path: string) {
  const parsed = parse(await readFile(path, 'utf8'));
  if (!(parsed instanceof types.MediaPlaylist)) throw new Error(`${path} is not a media playlist`);
  return parsed;
}

async function masterOf(dir: string) {
  const parsed = parse(await readFile(join(dir, 'master.m3u8'), 'utf8'));
  if (!(parsed instanceof types.MasterPlaylist)) throw new Error('master.m3u8 is not a master playlist');
  return parsed;
}

/**
 * The `hls` tool's split support (issue #19) on real videos: each part encoded by `runPart`, its
 * artifacts stored in a real Object Store and fetched back for `join`, as the worker will do, and the
 * joined ladder compared with an unsplit run of the same video by a worker in this process.
 */
describe('the hls tool, split into parts and joined', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let blobs: BlobStore;
  let worker: TestingModule;
  let ffmpegRunner: FfmpegRunner;
  let ffprobeRunner: FfprobeRunner;
  /** The tool and its pipeline's params, from the worker's own catalog. */
  let hlsTool: Tool;
  let hlsParams: (params: Record<string, unknown>) => Record<string, unknown>;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  const v: Record<string, string> = {};

  /** A tool context as the worker makes one: real ffmpeg runner with the upload's input options, real Object Store writer. */
  async function context(input: MediaInput, jobId: string, prefix: string, params: Record<string, unknown>) {
    // Inside the upload's directory, as the worker lays out an attempt (the runner reads concat lists only there).
    const workDir = await mkdtemp(join(dirname(input.path), 'work-'));
    const writer = new ObjectStoreArtifactWriter(blobs, prefix);
    const signal = new AbortController().signal;
    const progress: number[] = [];
    const ctx: ToolContext = {
      jobId,
      attempt: 1,
      inputPath: input.path,
      workDir,
      params: hlsParams(params),
      media: toMediaInfo(await ffprobeRunner.probe(input, signal)),
      signal,
      artifacts: writer,
      results: {},
      progress: { frames: (current, total, done) => progress.push(done ?? (total ? current / total : 0)), fraction: (done) => progress.push(done) },
      tools: { ffmpeg: (args, options) => ffmpegRunner.run(args, signal, options?.onProgress, input) },
    };
    return { ctx, writer, workDir, progress };
  }

  /** Downloads artifacts into a new folder under their names; returns the folder and name → path. */
  async function download(refs: ReadonlyArray<{ name: string; objectName: string }>) {
    const dir = await mkdtemp(join(media.dir, 'got-'));
    const files = new Map<string, string>();
    for (const ref of refs) {
      const path = join(dir, ref.name);
      await writeFile(path, await downloadObject(blobs, ref.objectName));
      files.set(ref.name, path);
    }
    return { dir, files };
  }

  /** A split run: every part by runPart (each in its own context, as on different workers), then join. */
  async function splitRun(video: string, params: Record<string, unknown>) {
    const jobId = freshName('split');
    const upload = join(await mkdtemp(join(media.dir, 'upload-')), 'input');
    await copyFile(video, upload);
    const input: MediaInput = { path: upload, demuxer: 'mov', maxDurationSec: 3600 };
    const split = hlsTool.split!;
    const parts = await partsAt(video, split.splitSeconds(hlsParams(params))!);
    const joinParts: JoinPart[] = [];
    const partProgress: number[][] = [];
    for (const part of parts) {
      const { ctx, writer, progress } = await context(input, jobId, `artifacts/${jobId}/part-${part.index}/`, params);
      await split.runPart(ctx, part);
      partProgress.push(progress);
      joinParts.push({ index: part.index, files: (await download(writer.artifacts())).files });
    }
    const { ctx, writer } = await context(input, jobId, `artifacts/${jobId}/1/`, params);
    // Given out of order: the join puts them in index order itself.
    const output: ToolOutput = await split.join(ctx, [...joinParts].reverse());
    const { dir, files } = await download(writer.artifacts());
    return { parts, joinParts, partProgress, output, dir, names: new Map(writer.artifacts().map((a) => [a.name, a.contentType])), files };
  }

  async function unsplitRun(video: string, params: Record<string, unknown>) {
    const job = await runWorkerJob(store, blobs, video, 'hls', params, 120_000);
    const { dir } = await download([...job.artifacts.values()].map((a) => ({ name: a.name, objectName: a.objectName })));
    return { dir, output: job.result.tools['hls']!, names: new Map([...job.artifacts.values()].map((a) => [a.name, a.contentType])) };
  }

  /** The joined ladder against the unsplit one, rendition by rendition. */
  async function expectSameLadder(video: string, params: Record<string, unknown>, expected: { heights: number[]; parts: number; audio: boolean; fps: number }) {
    const [split, whole] = [await splitRun(video, params), await unsplitRun(video, params)];
    const heights = expected.heights;
    const frame = 1 / expected.fps;
    expect(split.parts).toHaveLength(expected.parts);

    // Every part made every rendition, video only, and each part's progress reached its end.
    for (const part of split.joinParts) {
      expect([...part.files.keys()].sort()).toEqual(heights.map((h) => `part-${String(part.index).padStart(4, '0')}-hls-${h}p.mp4`).sort());
      for (const path of part.files.values()) expect((await streamsOf(path)).map((s) => s.codec_type)).toEqual(['video']);
    }
    for (const progress of split.partProgress) expect(progress.at(-1)).toBeGreaterThan(0.9);

    // The same artifacts, the same result but for the measured bit rates.
    expect(split.names).toEqual(whole.names);
    const [s, w] = [split.output.data!['hls'] as HlsData, whole.output.data!['hls'] as HlsData];
    expect(split.output.summary).toEqual(whole.output.summary);
    const shape = (d: HlsData) => ({ ...d, renditions: d.renditions.map(({ bandwidth: _b, average_bandwidth: _a, ...r }) => r).sort((a, b) => a.height - b.height) });
    expect(shape(s)).toEqual(shape(w));
    expect(s.renditions.map((r) => r.height).sort((a, b) => a - b)).toEqual(heights);

    const videoEnds: number[] = [];
    for (const h of heights) {
      const file = `hls-${h}p.mp4`;
      const [joined, unsplit] = [await packets(join(split.dir, file)), await packets(join(whole.dir, file))];
      // The same frames at the same times: count, first and last, and every one of them.
      expect(joined.length).toBe(unsplit.length);
      expect(Math.abs(joined.at(-1)!.pts + joined.at(-1)!.duration - joined[0]!.pts - (unsplit.at(-1)!.pts + unsplit.at(-1)!.duration - unsplit[0]!.pts))).toBeLessThan(frame);
      expect((await frameTimes(join(split.dir, file))).map((t) => t.toFixed(3))).toEqual((await frameTimes(join(whole.dir, file))).map((t) => t.toFixed(3)));
      videoEnds.push(joined.at(-1)!.pts + joined.at(-1)!.duration);
      // Every key frame of the unsplit run is one of the joined rendition's (a part that starts between two adds its own).
      const joinedKeys = new Set(joined.filter((p) => p.key).map((p) => p.pts.toFixed(3)));
      for (const p of unsplit.filter((x) => x.key)) expect(joinedKeys).toContain(p.pts.toFixed(3));
      expect(await streamsOf(join(split.dir, file))).toEqual(await streamsOf(join(whole.dir, file)));
      // The same segments: every byte range's EXTINF, in order, and ranges that cover the file.
      const [pj, pu] = [await mediaPlaylistOf(join(split.dir, `hls-${h}p.m3u8`)), await mediaPlaylistOf(join(whole.dir, `hls-${h}p.m3u8`))];
      expect(pj.segments.map((x) => x.duration.toFixed(3))).toEqual(pu.segments.map((x) => x.duration.toFixed(3)));
      const last = pj.segments.at(-1)!.byterange!;
      expect(last.offset! + last.length).toBe((await readFile(join(split.dir, file))).length);
      expect(await decodeErrors(join(split.dir, file))).toBe('');
    }

    const master = await masterOf(split.dir);
    const unsplitMaster = await masterOf(whole.dir);
    expect(master.version).toBe(7);
    const attributes = (m: typeof master) => m.variants.map((x) => ({ uri: x.uri, resolution: x.resolution, codecs: x.codecs, frameRate: x.frameRate, audio: x.audio.map((a) => a.uri) })).sort((a, b) => a.uri.localeCompare(b.uri));
    expect(attributes(master)).toEqual(attributes(unsplitMaster));
    for (const variant of master.variants) {
      expect(variant.bandwidth).toBeGreaterThanOrEqual(variant.averageBandwidth!);
      expect(variant.averageBandwidth).toBeGreaterThan(0);
      expect(variant.frameRate).toBe(expected.fps);
    }
    const text = await readFile(join(split.dir, 'master.m3u8'), 'utf8');
    if (expected.audio) {
      expect(text).toMatch(/#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio".*URI="hls-audio.m3u8"/);
      const audio = await audioEnd(join(split.dir, 'hls-audio.mp4'));
      // In sync: the audio ends within one of its frames of the video, as in the unsplit run.
      for (const end of videoEnds) expect(Math.abs(audio.end - end)).toBeLessThan(audio.frame);
      expect(audio.end).toBeCloseTo((await audioEnd(join(whole.dir, 'hls-audio.mp4'))).end, 3);
      const [aj, au] = [await mediaPlaylistOf(join(split.dir, 'hls-audio.m3u8')), await mediaPlaylistOf(join(whole.dir, 'hls-audio.m3u8'))];
      expect(aj.segments.map((x) => x.duration.toFixed(3))).toEqual(au.segments.map((x) => x.duration.toFixed(3)));
      expect(await decodeErrors(join(split.dir, 'hls-audio.mp4'))).toBe('');
    } else {
      expect(text).not.toMatch(/EXT-X-MEDIA|AUDIO=/);
    }
    // A player's view: ffmpeg opens the master playlist and decodes every variant to the end.
    expect(await decodeErrors(join(split.dir, 'master.m3u8'))).toBe('');
    return split;
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    media = await mediaDir();
    const d = media.dir;
    // 10 s of 854x480 at 25 fps with audio; a key frame every 37 frames (1.48 s), so no cut falls on a segment boundary.
    v['av'] = join(d, 'av.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=854x480:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '10',
      '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '37', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', v['av']]);
    // 10 s of 640x480 at 30000/1001 fps without audio, with B-frames, a key frame every 60 frames (2.002 s).
    v['silent'] = join(d, 'silent.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=640x480:rate=30000/1001', '-t', '10', '-c:v', 'libx264', '-preset', 'veryfast', '-bf', '3', '-g', '60', '-keyint_min', '60', '-sc_threshold', '0', '-pix_fmt', 'yuv420p', v['silent']]);
    // 10.5 s of 320x240 at 30 fps, a key frame every 37 frames (1.233 s), the last at 9.867 s: a frame is no whole number of milliseconds.
    v['small'] = join(d, 'small.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30', '-t', '10.5', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '37', '-pix_fmt', 'yuv420p', v['small']]);

    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'hls-split-worker', WORKER_CONCURRENCY: '1' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
    ffmpegRunner = worker.get(FfmpegRunner);
    ffprobeRunner = worker.get(FfprobeRunner);
    const catalog = worker.get(ToolCatalog);
    hlsTool = catalog.tool('hls')!;
    hlsParams = (params) => catalog.pipeline('hls')!.params.parse(params) as Record<string, unknown>;
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await ns?.cleanup();
    await media?.cleanup();
  });

  it('480p with audio, cut at key frames between segment boundaries: the joined ladder has the unsplit one\'s frames, segments, master playlist and audio', async () => {
    const split = await expectSameLadder(v['av']!, { split_seconds: 4, segment_seconds: 2 }, { heights: [240, 360, 480], parts: 3, audio: true, fps: 25 });
    // The cuts are the source's key frames at 4.44 s and 7.4 s, inside segments, not at their starts.
    expect(split.parts.map((p) => [p.start, p.end])).toEqual([[0, 4.44], [4.44, 7.4], [7.4, null]]);
  }, 120_000);

  it('30 fps cut every 2 s into six parts, some shorter than a segment, the last shorter than a key-frame interval: the parts do not drift', async () => {
    const split = await expectSameLadder(v['small']!, { renditions: [240], split_seconds: 2, segment_seconds: 2 }, { heights: [240], parts: 6, audio: false, fps: 30 });
    expect(split.parts.map((p) => p.start.toFixed(3))).toEqual(['0.000', '2.467', '3.700', '6.167', '7.400', '9.867']);
  }, 120_000);

  it('the join refuses parts with a gap, none at all, or a part without a rendition\'s file, and uploads nothing', async () => {
    const upload = join(await mkdtemp(join(media.dir, 'upload-')), 'input');
    await copyFile(v['small']!, upload);
    const input: MediaInput = { path: upload, demuxer: 'mov', maxDurationSec: 3600 };
    const part = (index: number, files: Array<[string, string]> = [[`part-${String(index).padStart(4, '0')}-hls-240p.mp4`, v['small']!]]): JoinPart => ({ index, files: new Map(files) });
    for (const [parts, message] of [
      [[part(0), part(2)], /parts 0 to n-1, got 0, 2/],
      [[], /got none/],
      [[part(0), part(1, [])], /part 1 has no part-0001-hls-240p.mp4/],
    ] as const) {
      const { ctx, writer } = await context(input, freshName('join'), `artifacts/${freshName('join')}/1/`, { renditions: [240], split_seconds: 2 });
      await expect(hlsTool.split!.join(ctx, parts)).rejects.toMatchObject({ code: 'TOOL_FAILED', message: expect.stringMatching(message) });
      expect(writer.artifacts()).toEqual([]);
    }
  });

  it('480p at 29.97 fps with B-frames and no audio: the same frames and segments as unsplit, no audio rendition', async () => {
    const split = await expectSameLadder(v['silent']!, { split_seconds: 4, segment_seconds: 2 }, { heights: [240, 360, 480], parts: 3, audio: false, fps: 29.97 });
    expect(split.parts.map((p) => p.start)).toEqual([0, 4.004, 8.008]);
    expect(split.names.has('hls-audio.mp4')).toBe(false);
  }, 120_000);
});
