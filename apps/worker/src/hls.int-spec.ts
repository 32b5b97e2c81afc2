import { execFile } from 'node:child_process';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import { parse, types } from 'hls-parser';
import type { ArtifactRef } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { createLogger } from '@app/observability';
import { freshNamespace, TEST_NATS_URL, type TestNamespace, IN_PROCESS_OPS } from '../../../test/support/services.js';
import { ffmpeg, frameTimes, makeVideo, mediaDir } from '../../../test/support/videos.js';
import { downloadObject, runWorkerJob } from '../../../test/support/worker-jobs.js';
import { WorkerModule } from './worker.module.js';

const run = promisify(execFile);

interface HlsData {
  master: string;
  segment_seconds: number;
  renditions: Array<{ height: number; width: number; bandwidth: number; average_bandwidth: number; codecs: string; frame_rate: number | null; playlist: string; file: string; segment_count: number }>;
  audio: { playlist: string; file: string; codecs: string } | null;
}

/** What ffprobe reads of a file's streams, with the H.264 profile and level. */
async function streamsOf(path: string) {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_entries', 'stream=codec_type,codec_name,profile,level,width,height,pix_fmt', path]);
  return JSON.parse(stdout) as {
    format: { duration: string };
    streams: Array<{ codec_type: string; codec_name: string; profile?: string; level?: number; width?: number; height?: number; pix_fmt?: string }>;
  };
}

/** Presentation times of the key frames of a file's video, as ffprobe decodes them. */
async function keyFrameTimes(path: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-skip_frame', 'nokey', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', path]);
  return stdout.split('\n').map((l) => l.replace(/,+$/, '').trim()).filter((l) => l !== '').map(Number);
}

/**
 * The `hls` pipeline on real videos, run by a worker in this process against a real stream and
 * Object Store; the playlists and files it stores are checked against what ffprobe reads in them.
 */
describe('the hls pipeline on real videos', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let blobs: BlobStore;
  let worker: TestingModule;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  const v: Record<string, string> = {};

  /** Runs the job and saves every artifact under its own name in a folder of its own. */
  async function hlsJob(video: string, params: Record<string, unknown> = {}) {
    const job = await runWorkerJob(store, blobs, video, 'hls', params, 120_000);
    const dir = join(media.dir, job.completed.jobId);
    await mkdir(dir);
    for (const [name, ref] of job.artifacts) {
      const bytes = await downloadObject(blobs, ref.objectName);
      expect(bytes.length).toBe(ref.size);
      await writeFile(join(dir, name), bytes);
    }
    const data = job.result.tools['hls']!.data!['hls'] as HlsData;
    return { ...job, dir, data };
  }

  /** The master playlist of a job's folder, as an independent parser reads it. */
  async function masterOf(dir: string) {
    const parsed = parse(await readFile(join(dir, 'master.m3u8'), 'utf8'));
    if (!(parsed instanceof types.MasterPlaylist)) throw new Error('master.m3u8 is not a master playlist');
    return parsed;
  }

  async function mediaPlaylistOf(dir: string, name: string) {
    const parsed = parse(await readFile(join(dir, name), 'utf8'));
    if (!(parsed instanceof types.MediaPlaylist)) throw new Error(`${name} is not a media playlist`);
    return parsed;
  }

  /** Every segment is a byte range of the rendition's one file; EXTINF at most a segment, all but the last a whole one. */
  async function expectSegments(dir: string, playlist: string, file: string, segmentSeconds: number, sourceSeconds: number, video: boolean) {
    const pl = await mediaPlaylistOf(dir, playlist);
    expect(pl.endlist).toBe(true);
    expect(pl.segments.length).toBeGreaterThan(0);
    const size = (await readFile(join(dir, file))).length;
    let end = 0;
    for (const [i, segment] of pl.segments.entries()) {
      expect(segment.uri).toBe(file);
      expect(segment.map).toMatchObject({ uri: file, byterange: { offset: 0 } });
      expect(segment.byterange!.offset).toBe(i === 0 ? segment.map!.byterange!.length : end);
      end = segment.byterange!.offset! + segment.byterange!.length;
      expect(segment.duration).toBeLessThanOrEqual(segmentSeconds + 0.05);
      if (i < pl.segments.length - 1 && video) expect(segment.duration).toBeCloseTo(segmentSeconds, 1);
    }
    // The ranges cover the file, to its last byte.
    expect(end).toBe(size);
    const total = pl.segments.reduce((sum, s) => sum + s.duration, 0);
    expect(Math.abs(total - sourceSeconds)).toBeLessThan(segmentSeconds);
    return pl;
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    media = await mediaDir();
    const d = media.dir;
    v['hd'] = await makeVideo(join(d, 'hd.mp4'), { seconds: 12, width: 1280, height: 720, fps: 25, audio: true });
    v['small'] = await makeVideo(join(d, 'small.mp4'), { seconds: 5, width: 320, height: 240, fps: 25 });
    // Variable frame rate: 30 fps with frames 30 to 59 dropped, so timestamps jump from 0.967 s to 2 s.
    v['vfr'] = join(d, 'vfr.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=30', '-t', '6', '-vf', "select='not(between(n,30,59))'", '-fps_mode', 'vfr', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', v['vfr']]);

    const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: 'hls-worker', WORKER_CONCURRENCY: '1' });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
  }, 120_000);

  afterAll(async () => {
    await worker?.close();
    await ns?.cleanup();
    await media?.cleanup();
  });

  it('720p with audio: a rendition per height up to the source, each one H.264 file of aligned segments, an audio rendition, and a master playlist ffprobe plays', async () => {
    const { dir, data, result, artifacts } = await hlsJob(v['hd']!);
    const heights = [240, 360, 480, 720];
    const widths = [426, 640, 854, 1280];

    // The artifact names and types other parts of the system rely on.
    const expected: Record<string, string> = { 'master.m3u8': 'application/vnd.apple.mpegurl', 'hls-audio.m3u8': 'application/vnd.apple.mpegurl', 'hls-audio.mp4': 'audio/mp4' };
    for (const h of heights) Object.assign(expected, { [`hls-${h}p.m3u8`]: 'application/vnd.apple.mpegurl', [`hls-${h}p.mp4`]: 'video/mp4' });
    expect(Object.fromEntries([...artifacts.values()].map((a: ArtifactRef) => [a.name, a.contentType]))).toEqual(expected);
    expect(result.summary).toMatchObject({ rendition_count: 4, segment_seconds: 4 });
    expect(data.master).toBe('master.m3u8');
    expect(data.audio).toEqual({ playlist: 'hls-audio.m3u8', file: 'hls-audio.mp4', codecs: 'mp4a.40.2' });
    expect(data.renditions.map((r) => [r.height, r.width, r.playlist, r.file, r.segment_count, r.frame_rate])).toEqual(
      heights.map((h, i) => [h, widths[i], `hls-${h}p.m3u8`, `hls-${h}p.mp4`, 3, 25]),
    );

    const keyFrames: number[][] = [];
    for (const [i, h] of heights.entries()) {
      const file = join(dir, `hls-${h}p.mp4`);
      const probe = await streamsOf(file);
      // Video only: the audio is a rendition of its own.
      expect(probe.streams).toEqual([expect.objectContaining({ codec_type: 'video', codec_name: 'h264', width: widths[i], height: h, pix_fmt: 'yuv420p' })]);
      expect(Math.abs(Number(probe.format.duration) - 12)).toBeLessThan(4);
      await expectSegments(dir, `hls-${h}p.m3u8`, `hls-${h}p.mp4`, 4, 12, true);
      keyFrames.push(await keyFrameTimes(file));
      // CODECS says the profile and level the file has.
      const stream = probe.streams[0]!;
      const rendition = data.renditions[i]!;
      expect(stream.profile).toBe('High');
      expect(rendition.codecs).toBe(`avc1.6400${stream.level!.toString(16).padStart(2, '0')},mp4a.40.2`);
    }
    // Key frames at the same times in every rendition, one at the start of each segment.
    expect(keyFrames[0]).toHaveLength(3);
    for (const times of keyFrames) expect(times).toEqual(keyFrames[0]);
    keyFrames[0]!.forEach((t, k) => expect(t - keyFrames[0]![0]!).toBeCloseTo(4 * k, 2));

    const audio = await streamsOf(join(dir, 'hls-audio.mp4'));
    expect(audio.streams).toEqual([expect.objectContaining({ codec_type: 'audio', codec_name: 'aac', profile: 'LC' })]);
    await expectSegments(dir, 'hls-audio.m3u8', 'hls-audio.mp4', 4, 12, false);

    const master = await masterOf(dir);
    expect(master.version).toBe(7);
    expect(master.independentSegments).toBe(true);
    expect(master.variants.map((x) => x.uri)).toEqual(heights.map((h) => `hls-${h}p.m3u8`));
    const bandwidths = master.variants.map((x) => x.bandwidth);
    expect([...bandwidths].sort((a, b) => a - b)).toEqual(bandwidths);
    for (const [i, variant] of master.variants.entries()) {
      expect(variant.averageBandwidth).toBeGreaterThan(0);
      expect(variant.bandwidth).toBeGreaterThanOrEqual(variant.averageBandwidth!);
      expect(variant.resolution).toEqual({ width: widths[i], height: heights[i] });
      expect(variant.codecs).toBe(data.renditions[i]!.codecs);
      expect(variant.frameRate).toBe(25);
      expect([variant.bandwidth, variant.averageBandwidth]).toEqual([data.renditions[i]!.bandwidth, data.renditions[i]!.average_bandwidth]);
      expect(variant.audio.map((a) => [a.type, a.groupId, a.uri, a.isDefault, a.autoselect])).toEqual([['AUDIO', 'audio', 'hls-audio.m3u8', true, true]]);
    }

    // ffprobe opens the master playlist from disk and finds every variant and the audio.
    const played = await streamsOf(join(dir, 'master.m3u8'));
    expect(played.streams.filter((s) => s.codec_type === 'video').map((s) => [s.width, s.height])).toEqual(heights.map((h, i) => [widths[i], h]));
    expect(played.streams.filter((s) => s.codec_type === 'audio').map((s) => s.codec_name)).toEqual(['aac']);
    expect(Math.abs(Number(played.format.duration) - 12)).toBeLessThan(4);
  }, 180_000);

  it('a silent 320x240 video: only the renditions up to 240 lines, no audio rendition; none low enough makes one at the source height', async () => {
    const { dir, data, artifacts } = await hlsJob(v['small']!, { segment_seconds: 2 });
    expect([...artifacts.keys()].sort()).toEqual(['hls-240p.m3u8', 'hls-240p.mp4', 'master.m3u8']);
    expect(data.audio).toBeNull();
    expect(data.renditions.map((r) => [r.width, r.height, r.segment_count])).toEqual([[320, 240, 3]]);
    expect(data.renditions[0]!.codecs).toMatch(/^avc1\.[0-9a-f]{6}$/);
    const text = await readFile(join(dir, 'master.m3u8'), 'utf8');
    expect(text).not.toMatch(/EXT-X-MEDIA|AUDIO=/);
    expect((await masterOf(dir)).variants.map((x) => [x.uri, x.resolution, x.audio])).toEqual([['hls-240p.m3u8', { width: 320, height: 240 }, []]]);
    await expectSegments(dir, 'hls-240p.m3u8', 'hls-240p.mp4', 2, 5, true);
    expect((await streamsOf(join(dir, 'hls-240p.mp4'))).streams.map((s) => s.codec_type)).toEqual(['video']);
    expect((await streamsOf(join(dir, 'master.m3u8'))).streams.map((s) => [s.codec_type, s.height])).toEqual([['video', 240]]);

    const above = await hlsJob(v['small']!, { renditions: [360, 720] });
    expect([...above.artifacts.keys()].sort()).toEqual(['hls-240p.m3u8', 'hls-240p.mp4', 'master.m3u8']);
    expect(above.data.renditions.map((r) => r.height)).toEqual([240]);
  }, 180_000);

  it('a variable-frame-rate video: constant frame rate at its base rate, its timeline kept, key frames aligned at the segment starts', async () => {
    const sourceTimes = await frameTimes(v['vfr']!);
    expect(sourceTimes).toHaveLength(150);
    const { dir, data } = await hlsJob(v['vfr']!, { renditions: [144, 240], segment_seconds: 2 });
    expect(data.renditions.map((r) => [r.height, r.frame_rate])).toEqual([[144, 30], [240, 30]]);
    const keyFrames: number[][] = [];
    for (const h of [144, 240]) {
      const file = join(dir, `hls-${h}p.mp4`);
      const times = await frameTimes(file);
      // The second without frames is filled with repeated ones: a frame every 1/30 s from start to end.
      expect(times).toHaveLength(180);
      times.forEach((t, i) => expect(t - times[0]!).toBeCloseTo(i / 30, 2));
      expect(times.at(-1)! - times[0]!).toBeCloseTo(sourceTimes.at(-1)! - sourceTimes[0]!, 2);
      keyFrames.push(await keyFrameTimes(file));
      await expectSegments(dir, `hls-${h}p.m3u8`, `hls-${h}p.mp4`, 2, 6, true);
    }
    expect(keyFrames[1]).toEqual(keyFrames[0]);
    expect(keyFrames[0]!.map((t) => t - keyFrames[0]![0]!)).toEqual([0, 2, 4].map((t) => expect.closeTo(t, 2)));
  }, 180_000);
});
