import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import webvtt from 'webvtt-parser';
import type { ArtifactRef, JobCompleted, JobProgressed } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { createLogger } from '@app/observability';
import type { PipelineResult } from '@app/tools';
import { downloadObject, runWorkerJob } from '../../../test/support/worker-jobs.js';
import { freshNamespace, TEST_NATS_URL, type TestNamespace, IN_PROCESS_OPS } from '../../../test/support/services.js';
import { dimensions, ffmpeg, ffprobe, frameTimes, makeCutsVideo, makeVideo, mediaDir } from '../../../test/support/videos.js';
import { WorkerModule } from './worker.module.js';

type Frame = PipelineResult['frames'][number];

/**
 * Each built-in tool on real videos made by ffmpeg, run by a worker in this process against a real
 * stream and Object Store; outputs are checked against what is really in each video.
 */
describe('built-in tools on real videos', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let blobs: BlobStore;
  let worker: TestingModule;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  const v: Record<string, string> = {};
  let cuts: number[] = [];

  const runJob = (video: string, pipeline: string, params: Record<string, unknown> = {}) => runWorkerJob(store, blobs, video, pipeline, params);
  const download = (objectName: string) => downloadObject(blobs, objectName);

  /** Saves an artifact to disk and checks it is a JPEG; returns its size in pixels. */
  async function jpegSize(ref: ArtifactRef | undefined): Promise<{ width: number; height: number }> {
    expect(ref).toBeDefined();
    expect(ref!.contentType).toBe('image/jpeg');
    const bytes = await download(ref!.objectName);
    expect(bytes.length).toBe(ref!.size);
    expect([...bytes.subarray(0, 3)]).toEqual([0xff, 0xd8, 0xff]);
    const path = join(media.dir, `${ref!.sha256}.jpg`);
    await writeFile(path, bytes);
    return dimensions(path);
  }

  /**
   * Reads a job's storyboard.vtt with the W3C's WebVTT parser and validator and checks it against the sheets and
   * the video: one cue per sampled frame, each the rectangle of one whole cell of a sheet that exists
   * (measured by ffprobe on the downloaded JPEG), the cells of a sheet in row-major grid order with
   * none used twice, and the cues one after another from 0 to the end of the video.
   */
  async function checkStoryboard(job: Awaited<ReturnType<typeof runJob>>, video: string, spriteWidth: number) {
    const { result, artifacts } = job;
    const data = result.tools['thumbnails']!.data as { storyboard: string; sprites: string[]; sprite_grid: { columns: number; rows: number; per_sheet: number } };
    expect(data.storyboard).toBe('storyboard.vtt');
    const ref = artifacts.get('storyboard.vtt');
    expect(ref?.contentType).toBe('text/vtt');
    const parsed = new webvtt.WebVTTParser().parse((await download(ref!.objectName)).toString('utf8'), 'metadata');
    expect(parsed.errors).toEqual([]);
    const cues = parsed.cues;
    expect(cues).toHaveLength(result.frames.length);

    const sheets = new Map<string, { width: number; height: number }>();
    for (const name of data.sprites) sheets.set(name, await jpegSize(artifacts.get(name)));
    const { columns, rows } = data.sprite_grid;
    const source = await dimensions(video);
    const used = new Map<string, Set<string>>();
    cues.forEach((cue, k) => {
      const match = /^(sprite-\d{3}\.jpg)#xywh=(\d+),(\d+),(\d+),(\d+)$/.exec(cue.text);
      expect(match).not.toBeNull();
      const [, name, x, y, w, h] = match!.map((part, i) => (i === 1 ? part : Number(part))) as [string, string, number, number, number, number];
      const sheet = sheets.get(name);
      expect(sheet).toBeDefined();
      // The k-th frame is on sheet k / per_sheet, at cell k % per_sheet counted row by row.
      expect(name).toBe(data.sprites[Math.floor(k / data.sprite_grid.per_sheet)]);
      const cell = { width: sheet!.width / columns, height: sheet!.height / rows };
      expect(Number.isInteger(cell.width) && Number.isInteger(cell.height)).toBe(true);
      expect([w, h]).toEqual([cell.width, cell.height]);
      const index = k % data.sprite_grid.per_sheet;
      expect([x, y]).toEqual([(index % columns) * cell.width, Math.floor(index / columns) * cell.height]);
      expect(x + w <= sheet!.width && y + h <= sheet!.height).toBe(true);
      const taken = used.get(name) ?? new Set<string>();
      expect(taken.has(`${x},${y}`)).toBe(false);
      used.set(name, taken.add(`${x},${y}`));
      // Cells are sprite_width wide and keep the video's shape (ffmpeg makes the height even).
      expect(w).toBe(spriteWidth);
      expect(h % 2).toBe(0);
      expect(Math.abs(h - (spriteWidth * source.height) / source.width)).toBeLessThanOrEqual(2);
    });

    // Coverage: from 0, each cue where the previous one ends and at its own frame's time, the last
    // one at the end of the video (ffprobe's duration) within one frame, and after the last frame.
    const probe = await ffprobe(video);
    const duration = Number(probe.format.duration);
    const [num, den] = probe.streams.find((s) => s.codec_type === 'video')!.avg_frame_rate!.split('/').map(Number) as [number, number];
    const frame = den / num;
    expect(cues[0]!.startTime).toBe(0);
    cues.forEach((cue, k) => {
      if (k > 0) {
        expect(cue.startTime).toBe(cues[k - 1]!.endTime);
        expect(cue.startTime).toBeCloseTo(result.frames[k]!.timestamp, 3);
      }
      expect(cue.endTime).toBeGreaterThan(cue.startTime);
    });
    const end = cues.at(-1)!.endTime;
    expect(Math.abs(end - duration)).toBeLessThanOrEqual(frame);
    expect(end).toBeGreaterThan((await frameTimes(video)).at(-1)!);
    return { cues, sheets };
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    media = await mediaDir();
    const d = media.dir;
    v['clip'] = await makeVideo(join(d, 'clip.mp4'), { seconds: 4, width: 320, height: 240, fps: 25, audio: true });
    v['silent'] = await makeVideo(join(d, 'silent.mp4'), { seconds: 2, width: 320, height: 240, fps: 25 });
    v['portrait'] = await makeVideo(join(d, 'portrait.mp4'), { seconds: 2, width: 180, height: 320, fps: 15 });
    v['one'] = join(d, 'one.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=25', '-frames:v', '1', '-c:v', 'libx264', '-pix_fmt', 'yuv420p', v['one']]);
    // Variable frame rate: 30 fps with frames 10 to 29 dropped, so timestamps jump from 0.3 s to 1.0 s.
    v['vfr'] = join(d, 'vfr.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=30', '-t', '2', '-vf', "select='not(between(n,10,29))'", '-fps_mode', 'vfr', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', v['vfr']]);
    // Ten minutes, tiny: 64x36 at 2 fps (1200 frames).
    v['long'] = await makeVideo(join(d, 'long.mp4'), { seconds: 600, width: 64, height: 36, fps: 2 });
    const made = await makeCutsVideo(join(d, 'cuts.mp4'), ['red', 'blue', 'green', 'white'], 1, 10);
    v['cuts'] = made.path;
    cuts = made.cuts;
    // One second each of black, moving test pattern and a still grey frame, at 10 fps.
    v['bfs'] = join(d, 'bfs.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'color=black:s=160x120:r=10:d=1', '-f', 'lavfi', '-i', 'testsrc=s=160x120:r=10:d=1', '-f', 'lavfi', '-i', 'color=gray:s=160x120:r=10:d=1',
      '-filter_complex', '[0][1][2]concat=n=3:v=1,format=yuv420p[v]', '-map', '[v]', '-c:v', 'libx264', '-preset', 'ultrafast', v['bfs']]);

    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'tools-worker', WORKER_CONCURRENCY: '2', RESULT_INLINE_MAX_BYTES: '16384' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await ns?.cleanup();
    await media?.cleanup();
  });

  it('thumbnails: every frame_stride-th frame up to max_frames, as JPEGs of the asked width, at the frames\' real timestamps, plus a sprite', async () => {
    const { result, artifacts } = await runJob(v['clip']!, 'thumbnails', { frame_stride: 10, max_frames: 7, thumbnail_width: 160 });
    const times = await frameTimes(v['clip']!);
    expect(result.total_frames).toBe(100);
    expect(result.frames.map((f) => f.frame_index)).toEqual([0, 10, 20, 30, 40, 50, 60]);
    for (const frame of result.frames) {
      expect(frame.timestamp).toBeCloseTo(times[frame.frame_index]!, 3);
      expect(frame['thumbnail']).toBe(`thumb-${String(frame.frame_index).padStart(6, '0')}.jpg`);
      expect(await jpegSize(artifacts.get(frame['thumbnail'] as string))).toEqual({ width: 160, height: 120 });
    }
    expect(result.summary).toMatchObject({ frame_count: 7, thumbnail_count: 7, sprite_count: 1 });
    // Seven cells of 160x120 in one row.
    expect(await jpegSize(artifacts.get('sprite-001.jpg'))).toEqual({ width: 7 * 160, height: 120 });
    // Seven thumbnails, the sheet and its storyboard.
    expect([...artifacts.keys()]).toHaveLength(9);
    expect(artifacts.get('storyboard.vtt')).toMatchObject({ contentType: 'text/vtt' });
  });

  it('thumbnails: a storyboard.vtt whose cues tile the sprite sheet and cover the video, landscape, portrait and at a variable frame rate', async () => {
    // 320x240 in cells 100 wide: ffmpeg makes them 100x76 (75 is odd).
    const clip = await checkStoryboard(await runJob(v['clip']!, 'thumbnails', { frame_stride: 10, sprite_width: 100 }), v['clip']!, 100);
    expect(clip.cues).toHaveLength(10);
    expect(clip.cues[1]!.text).toBe('sprite-001.jpg#xywh=100,0,100,76');
    // 180x320 in cells 160 wide: 160x284, not 284.4.
    const portrait = await checkStoryboard(await runJob(v['portrait']!, 'thumbnails', { frame_stride: 3 }), v['portrait']!, 160);
    expect(portrait.cues.at(-1)!.text).toBe('sprite-001.jpg#xywh=1440,0,160,284');
    // Frames 0 to 9, then a gap to 1 s: the cue of frame 5 lasts until frame 10 at 1.0 s.
    const vfr = await checkStoryboard(await runJob(v['vfr']!, 'thumbnails', { frame_stride: 5, sprite_width: 64 }), v['vfr']!, 64);
    expect([vfr.cues[1]!.startTime, vfr.cues[1]!.endTime]).toEqual([expect.closeTo(5 / 30, 3), 1]);
  });

  it('thumbnails: more than 100 samples spill onto a second sheet and the storyboard follows them there; analyze writes it too', async () => {
    // 1200 frames, every 10th: 120 samples, 100 on the first sheet and 20 on the second (a whole 10x10 sheet all the same).
    const job = await runJob(v['long']!, 'analyze', { frame_stride: 10, max_frames: 150, sprite_width: 50 });
    const { cues, sheets } = await checkStoryboard(job, v['long']!, 50);
    expect([...sheets.entries()]).toEqual([
      ['sprite-001.jpg', { width: 500, height: 280 }],
      ['sprite-002.jpg', { width: 500, height: 280 }],
    ]);
    expect(cues.filter((c) => c.text.startsWith('sprite-002.jpg'))).toHaveLength(20);
    expect(cues[100]!.text).toBe('sprite-002.jpg#xywh=0,0,50,28');
    expect([cues[100]!.startTime, cues.at(-1)!.endTime]).toEqual([500, 600]);
  });

  it('thumbnails: stops at the end of the video when max_frames asks for more, and keeps a portrait video upright', async () => {
    const { result } = await runJob(v['clip']!, 'thumbnails', { frame_stride: 30, max_frames: 50 });
    expect(result.frames.map((f) => f.frame_index)).toEqual([0, 30, 60, 90]);
    const portrait = await runJob(v['portrait']!, 'thumbnails', { frame_stride: 15, thumbnail_width: 90 });
    expect(portrait.result.frames.map((f) => f.frame_index)).toEqual([0, 15]);
    expect(await jpegSize(portrait.artifacts.get('thumb-000015.jpg'))).toEqual({ width: 90, height: 160 });
  });

  it('thumbnails on a variable-frame-rate video report each sampled frame\'s own timestamp', async () => {
    const times = await frameTimes(v['vfr']!);
    expect(times).toHaveLength(40);
    const { result } = await runJob(v['vfr']!, 'thumbnails', { frame_stride: 5 });
    expect(result.frames.map((f) => f.frame_index)).toEqual([0, 5, 10, 15, 20, 25, 30, 35]);
    for (const frame of result.frames) expect(frame.timestamp).toBeCloseTo(times[frame.frame_index]!, 3);
    // Frame 10 comes after the gap: a second after frame 0, not a third.
    expect(result.frames[2]!.timestamp).toBeCloseTo(1.0, 2);
  });

  it('scenes: finds exactly the cuts the video was made with, at their timestamps, each with a keyframe JPEG', async () => {
    const { result, artifacts } = await runJob(v['cuts']!, 'scenes', { thumbnail_width: 80 });
    const data = result.tools['scenes']!.data as { cuts: Array<{ frame_index: number; timestamp: number; score: number; keyframe: string }> };
    expect(data.cuts.map((c) => c.frame_index)).toEqual(cuts);
    expect(data.cuts.map((c) => c.timestamp)).toEqual([1, 2, 3]);
    for (const cut of data.cuts) {
      expect(cut.score).toBeGreaterThan(0.3);
      expect(await jpegSize(artifacts.get(cut.keyframe))).toEqual({ width: 80, height: 60 });
    }
    expect(result.summary).toMatchObject({ scene_cut_count: 3 });
    // A higher threshold keeps only the cuts whose score is above it.
    const strong = await runJob(v['cuts']!, 'scenes', { scene_threshold: 0.5 });
    const kept = (strong.result.tools['scenes']!.data as { cuts: Array<{ frame_index: number }> }).cuts.map((c) => c.frame_index);
    expect(kept).toEqual(data.cuts.filter((c) => c.score > 0.5).map((c) => c.frame_index));
    expect(kept.length).toBeLessThan(data.cuts.length);
    expect(strong.completed.data.artifacts.map((a) => a.name)).toEqual(kept.map((i) => `scene-${String(i).padStart(6, '0')}.jpg`));
    // The moving test pattern has no cut at all.
    const none = await runJob(v['clip']!, 'scenes');
    expect((none.result.tools['scenes']!.data as { cuts: unknown[] }).cuts).toEqual([]);
    expect(none.completed.data.artifacts).toEqual([]);
  });

  it('frame-stats: black frames, frozen frames and motion where the video has them', async () => {
    const { result } = await runJob(v['bfs']!, 'frame-stats', { frame_stride: 2, max_frames: 15 });
    const frames = result.frames as Array<Frame & { mean_luma: number; black: boolean; frozen: boolean; motion: number | null }>;
    expect(frames.map((f) => f.frame_index)).toEqual([0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28]);
    const black = frames.filter((f) => f.frame_index < 10);
    const pattern = frames.filter((f) => f.frame_index >= 10 && f.frame_index < 20);
    const grey = frames.filter((f) => f.frame_index > 20);
    expect(black.every((f) => f.black && f.mean_luma <= 17)).toBe(true);
    expect(pattern.every((f) => !f.black && !f.frozen && (f.motion ?? 0) > 0)).toBe(true);
    expect(grey.every((f) => !f.black && f.frozen && f.motion === 0)).toBe(true);
    expect(frames[0]!.motion).toBeNull();
    expect(result.summary).toMatchObject({ frame_count: 15, black_frame_count: 5, frozen_frame_count: 4 + 4 });
  });

  it('transcode: an H.264/AAC MP4 at the asked height with its index first, and no audio track for a silent video', async () => {
    const { artifacts } = await runJob(v['clip']!, 'transcode', { height: 120 });
    const ref = artifacts.get('rendition-120p.mp4')!;
    expect(ref.contentType).toBe('video/mp4');
    const bytes = await download(ref.objectName);
    const path = join(media.dir, 'rendition.mp4');
    await writeFile(path, bytes);
    const probe = await ffprobe(path);
    expect(probe.streams.map((s) => s.codec_name).sort()).toEqual(['aac', 'h264']);
    expect(probe.streams.find((s) => s.codec_type === 'video')).toMatchObject({ width: 160, height: 120 });
    expect(Number(probe.format.duration)).toBeCloseTo(4, 0);
    // faststart: the moov box comes before the media data.
    expect(bytes.indexOf('moov')).toBeLessThan(bytes.indexOf('mdat'));

    const silent = await runJob(v['silent']!, 'transcode', { height: 60 });
    const silentPath = join(media.dir, 'silent-rendition.mp4');
    await writeFile(silentPath, await download(silent.artifacts.get('rendition-60p.mp4')!.objectName));
    expect((await ffprobe(silentPath)).streams.map((s) => s.codec_type)).toEqual(['video']);
  });

  it('runs every tool on a one-frame video', async () => {
    const { result, artifacts } = await runJob(v['one']!, 'analyze', { frame_stride: 5 });
    expect(result.total_frames).toBe(1);
    expect(result.frames).toEqual([expect.objectContaining({ frame_index: 0, timestamp: 0, thumbnail: 'thumb-000000.jpg', motion: null })]);
    expect((result.tools['scenes']!.data as { cuts: unknown[] }).cuts).toEqual([]);
    expect(result.tools['probe']!.data).toMatchObject({ width: 160, height: 120, frame_count: 1 });
    expect([...artifacts.keys()].sort()).toEqual(['sprite-001.jpg', 'storyboard.vtt', 'thumb-000000.jpg']);
    const rendition = await runJob(v['one']!, 'transcode', { height: 60 });
    expect(rendition.artifacts.has('rendition-60p.mp4')).toBe(true);
  });

  it('analyzes a ten-minute video: frames merged by index across tools, progress at every tool boundary that never goes back', async () => {
    const { result, events } = await runJob(v['long']!, 'analyze', { frame_stride: 100, max_frames: 20 });
    expect(result.total_frames).toBe(1200);
    expect(result.frames.map((f) => f.frame_index)).toEqual(Array.from({ length: 12 }, (_, i) => i * 100));
    for (const frame of result.frames) {
      expect(frame.timestamp).toBeCloseTo(frame.frame_index / 2, 3);
      expect(frame).toEqual(expect.objectContaining({ thumbnail: expect.any(String), mean_luma: expect.any(Number), black: false }));
    }
    expect(Object.keys(result.tools)).toEqual(['probe', 'thumbnails', 'scenes', 'frame-stats']);
    expect(result.tools['probe']!.data).toMatchObject({ width: 64, height: 36, duration: 600 });

    const progress = events.filter((e): e is JobProgressed => e.type === 'JobProgressed');
    const boundaries = progress.filter((e) => e.data.currentFrame === 0 && e.data.percent === (e.data.toolsCompleted / 4) * 100);
    expect(boundaries.map((e) => [e.data.toolsCompleted, e.data.currentTool])).toEqual([[1, 'thumbnails'], [2, 'scenes'], [3, 'frame-stats']]);
    const percents = progress.map((e) => e.data.percent);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    expect(progress.every((e) => e.data.toolsTotal === 4 && e.data.totalFrames === 1200 && e.data.attempt === 1)).toBe(true);
    expect(events.map((e) => e.type).filter((t) => t !== 'JobProgressed')).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
  });

  it('puts a result too large for an event in the Object Store, and the event carries a reference to it', async () => {
    const { completed, result } = await runJob(v['long']!, 'frame-stats', { frame_stride: 1, max_frames: 400 });
    expect(completed.data.result).toBeNull();
    expect(completed.data.resultRef).toMatchObject({ objectName: `results/${completed.jobId}/1.json`, contentType: 'application/json' });
    expect(completed.data.resultRef!.size).toBeGreaterThan(16384);
    expect(result.frames).toHaveLength(400);
    expect(result.summary.frame_count).toBe(400);
  });

  it('keeps the probe and noop paths at exactly three events', async () => {
    const probe = await runJob(v['clip']!, 'probe');
    expect(probe.events.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
    expect(probe.result.tools['probe']!.summary).toMatchObject({ width: 320, height: 240, duration: 4, fps: 25, codec: 'h264' });
  });
});
