import { execFile } from 'node:child_process';
import { constants } from 'node:fs';
import { open, readFile, writeFile, type FileHandle } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import type { JobCompleted, JobEvent, JobFailed, VideoSubmitted } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { createLogger } from '@app/observability';
import type { PipelineResult } from '@app/tools';
import { jobRedriven, videoSubmitted } from '../../../test/support/events.js';
import { eventually, freshNamespace, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace } from '../../../test/support/services.js';
import {
  disguisedDashManifest,
  ffconcatList,
  ffmpeg,
  hlsPlaylist,
  makeVideo,
  manyFramesVideo,
  mediaDir,
  mkvStatingDuration,
  movWithExternalReference,
} from '../../../test/support/videos.js';
import { WorkerModule } from './worker.module.js';

const run = promisify(execFile);

/** A worker in this process on a fresh namespace, and a way to run one job on it to its end. */
async function startWorker(id: string, env: Record<string, string> = {}) {
  const ns = await freshNamespace();
  const store = new EventStore(ns.nc, ns.subjects);
  const blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
  const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: id, ...env });
  const worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
  await worker.init();

  /** Stores `bytes` as an upload of `contentType` (as the gateway would have sniffed it) and waits for the job to end. */
  async function runJob(bytes: Uint8Array, contentType: string, pipeline: string, params: Record<string, unknown> = {}, timeoutMs = 120_000) {
    const submitted = videoSubmitted(undefined, { pipeline, params });
    const blob = await blobs.putBytes(`uploads/${submitted.jobId}/1`, bytes, contentType);
    submitted.data.video = { ...submitted.data.video, contentType, bucket: blob.bucket, objectName: blob.name, size: blob.size, sha256: blob.sha256 };
    await store.append(submitted, 0);
    const stored = await eventually(async () => {
      const items = (await store.readJob(submitted.jobId)).flatMap((item) => (item.ok ? [item.stored] : []));
      const last = items.at(-1)?.event;
      return last?.type === 'JobCompleted' || (last?.type === 'JobFailed' && last.data.final) ? items : undefined;
    }, timeoutMs, `the ${pipeline} job to end`);
    const events = stored.map((s) => s.event);
    const failures = events.filter((e): e is JobFailed => e.type === 'JobFailed').map((e) => [e.data.attempt, e.data.final, e.data.error.code]);
    const last = events.at(-1)!;
    return { submitted, events, stored, failures, last, failed: last.type === 'JobFailed' ? (last as JobFailed) : null, completed: last.type === 'JobCompleted' ? (last as JobCompleted) : null };
  }

  /** Redrives a job that ended (as the jobs service does, from its attempt `firstAttempt`) and waits for the redrive to end. */
  async function redrive(submitted: VideoSubmitted, firstAttempt: number, timeoutMs = 120_000) {
    const ended = (await store.readJob(submitted.jobId)).flatMap((item) => (item.ok ? [item.stored] : [])).at(-1)!;
    await store.append(jobRedriven(submitted, ended.event, firstAttempt), ended.seq);
    return eventually(async () => {
      const events = (await store.readJob(submitted.jobId)).flatMap((item) => (item.ok ? [item.stored.event] : []));
      const run = events.slice(events.findIndex((e) => e.type === 'JobRedriven'));
      const last = run.at(-1);
      const failures = run.filter((e): e is JobFailed => e.type === 'JobFailed').map((e) => [e.data.attempt, e.data.final, e.data.error.code]);
      return last?.type === 'JobCompleted' || (last?.type === 'JobFailed' && last.data.final) ? failures : undefined;
    }, timeoutMs, 'the redriven job to end');
  }

  return {
    ns,
    worker,
    runJob,
    redrive,
    async close() {
      await worker.close();
      await ns.cleanup();
    },
  };
}

type Running = Awaited<ReturnType<typeof startWorker>>;
const types = (events: JobEvent[]) => events.map((e) => e.type);

/** An HTTP server that records every request it gets (and answers none of them usefully). */
async function recordingServer(): Promise<{ server: Server; base: string; requests: string[] }> {
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(`${req.method} ${req.url}`);
    res.writeHead(404).end();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

/**
 * Uploads that ask a worker for too much, with the worker's default limits: each ends at once with a
 * clear code on its first attempt; and real videos up to 4K still pass.
 */
describe('media limits on a worker with its default settings', () => {
  let w: Running;
  let media: Awaited<ReturnType<typeof mediaDir>>;

  beforeAll(async () => {
    media = await mediaDir();
    // A plugin whose pipeline takes clips up to a second long: a tighter limit than the installation's.
    const plugin = join(media.dir, 'short-clips.mjs');
    await writeFile(plugin, "export default { name: 'short-clips', version: '1.0.0', tools: [], pipelines: [{ name: 'short-probe', description: 'probe, for clips up to a second', tools: ['probe'], mediaLimits: { maxDurationSec: 1, maxFps: 10000 } }] };\n");
    w = await startWorker('limits-worker', { FRAMEWIRE_PLUGINS: plugin });
  }, 60_000);

  afterAll(async () => {
    await w?.close();
    await media?.cleanup();
  });

  it('fails an hour of 16x16 at 1000 fps with INPUT_TOO_LARGE on its first attempt, before any tool runs', async () => {
    const path = await manyFramesVideo();
    const { events, failures, failed } = await w.runJob(await readFile(path), 'video/mp4', 'analyze');
    expect(types(events)).toEqual(['VideoSubmitted', 'JobStarted', 'JobFailed']);
    expect(failures).toEqual([[1, true, 'INPUT_TOO_LARGE']]);
    expect(failed!.data.retryDelayMs).toBeNull();
    expect(failed!.data.error.message).toBe(
      'the video is too large to process: frame rate 1000 fps is over 240 fps (MEDIA_MAX_FPS); frame count 3600000 is over 3456000 (MEDIA_MAX_FRAMES)',
    );
  }, 180_000);

  it('applies a pipeline\'s own tighter limit, and names it; other pipelines take the same video', async () => {
    const path = await makeVideo(join(media.dir, 'two-seconds.mp4'), { seconds: 2, width: 160, height: 120, fps: 10 });
    const bytes = await readFile(path);
    const short = await w.runJob(bytes, 'video/mp4', 'short-probe');
    expect(short.failures).toEqual([[1, true, 'INPUT_TOO_LARGE']]);
    expect(short.failed!.data.error.message).toBe('the video is too large to process: duration 2 s is over 1 s (pipeline "short-probe"\'s limit)');
    expect((await w.runJob(bytes, 'video/mp4', 'probe')).completed).not.toBeNull();
  });

  it('transcodes 1080p and 4K under the default thread and memory caps', async () => {
    for (const [name, size, height] of [['1080p', '1920x1080', 1080], ['4k', '3840x2160', 2160]] as const) {
      const path = join(media.dir, `${name}.mp4`);
      await ffmpeg(['-f', 'lavfi', '-i', `testsrc=size=${size}:rate=25`, '-t', '0.4', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', path]);
      const { completed, failures } = await w.runJob(await readFile(path), 'video/mp4', 'transcode', { height, preset: 'ultrafast' }, 300_000);
      expect(failures).toEqual([]);
      const rendition = (completed!.data.result as PipelineResult | null)?.tools['transcode']?.data?.['rendition'] as { height: number; size: number };
      expect(rendition).toMatchObject({ height });
      expect(rendition.size).toBeGreaterThan(0);
    }
  }, 600_000);
});

/** A header can lie about a video's length; ffmpeg stops reading at the duration limit all the same. */
describe('a video longer than its header says', () => {
  let w: Running;
  let media: Awaited<ReturnType<typeof mediaDir>>;

  beforeAll(async () => {
    media = await mediaDir();
    w = await startWorker('duration-worker', { MEDIA_MAX_DURATION_SEC: '3' });
  });

  afterAll(async () => {
    await w?.close();
    await media?.cleanup();
  });

  it('is read up to the duration limit only', async () => {
    const path = join(media.dir, 'ten-seconds.mkv');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '10', '-c:v', 'mpeg4', path]);
    // Ten seconds (100 frames) that say they last one: within the limit of 3 s by the header.
    const { completed } = await w.runJob(mkvStatingDuration(await readFile(path), 1), 'video/x-matroska', 'thumbnails', { frame_stride: 10 });
    const result = completed!.data.result as PipelineResult;
    expect(result.total_frames).toBe(100);
    expect(result.frames.map((f) => f.frame_index)).toEqual([0, 10, 20]);
  });
});

/**
 * Uploads that try to make ffmpeg read something else: a manifest or playlist stored as a video, a
 * MOV whose samples live in another file. ffmpeg reads each only as the container it was accepted as,
 * from local files and pipes, and never follows a data reference: the job ends with a clear code, and
 * neither the other file nor the URL is ever read.
 */
describe('an upload reaches ffmpeg only as what it was accepted as', () => {
  let w: Running;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let http: Awaited<ReturnType<typeof recordingServer>>;
  /** Another video on the worker's disk, 208x144: a job that reports that size has read it. */
  let secret = '';

  beforeAll(async () => {
    media = await mediaDir();
    http = await recordingServer();
    secret = await makeVideo(join(media.dir, 'secret.mp4'), { seconds: 1, width: 208, height: 144, fps: 5 });
    w = await startWorker('input-worker');
  }, 60_000);

  afterAll(async () => {
    await w?.close();
    await new Promise((resolve) => http?.server.close(resolve));
    await media?.cleanup();
  });

  it.each([
    ['a DASH manifest accepted as MPEG-TS, pointing at a file', () => disguisedDashManifest(secret), 'video/mp2t'],
    ['a DASH manifest accepted as MPEG-TS, pointing at a URL', () => disguisedDashManifest(`${http.base}/dash/segment.mp4`), 'video/mp2t'],
    ['an HLS playlist stored as MP4, pointing at a file', () => hlsPlaylist(secret), 'video/mp4'],
    ['an HLS playlist stored as MP4, pointing at a URL', () => hlsPlaylist(`${http.base}/hls/segment.ts`), 'video/mp4'],
    ['an ffconcat list stored as MP4', () => ffconcatList(secret), 'video/mp4'],
  ])('%s: INVALID_MEDIA, and nothing else is read', async (_, make, contentType) => {
    const { failures, failed } = await w.runJob(make(), contentType, 'probe');
    expect(failures).toEqual([[1, true, 'INVALID_MEDIA']]);
    expect(failed!.data.error.message).not.toMatch(/208|144/);
    expect(http.requests).toEqual([]);
  });

  it('an upload stored as a type the gateway never accepts (an old job, a foreign writer) is not probed at all: UNSUPPORTED_MEDIA', async () => {
    const { failures, failed } = await w.runJob(await readFile(secret), 'application/octet-stream', 'probe');
    expect(failures).toEqual([[1, true, 'UNSUPPORTED_MEDIA']]);
    expect(failed!.data.error.message).toBe('the upload is stored as "application/octet-stream", which is no container the workers read');
  });

  it('a MOV whose data reference points at another file: the job ends cleanly (INVALID_MEDIA), and that file is never opened', async () => {
    const mov = join(media.dir, 'reference.mov');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '1', '-c:v', 'mpeg4', '-f', 'mov', mov]);
    /** A FIFO as the referenced file: whoever opens it for reading completes our pending open for writing. */
    const watched = async (name: string) => {
      const path = join(media.dir, name);
      await run('mkfifo', [path]);
      const state = { opened: false, writer: null as Promise<FileHandle> | null };
      state.writer = open(path, 'w').then((handle) => ((state.opened = true), handle));
      return { path, state, release: async () => (await Promise.all([open(path, constants.O_RDONLY | constants.O_NONBLOCK), state.writer!])).forEach((h) => void h.close()) };
    };
    // The file is built right: an ffprobe told to follow references opens it.
    const control = await watched('control.fifo');
    const crafted = join(media.dir, 'control.mov');
    await writeFile(crafted, movWithExternalReference(await readFile(mov), control.path));
    const probing = run('ffprobe', ['-v', 'error', '-enable_drefs', '1', '-use_absolute_path', '1', crafted]).catch(() => undefined);
    await (await control.state.writer!).close(); // only once ffprobe has opened it
    await probing;
    expect(control.state.opened).toBe(true);

    const target = await watched('target.fifo');
    try {
      const { failures, failed } = await w.runJob(movWithExternalReference(await readFile(mov), target.path), 'video/quicktime', 'thumbnails', { frame_stride: 5 });
      // Its only track lives in the other file, which is not opened: the upload has no video of its own.
      expect(failures).toEqual([[1, true, 'INVALID_MEDIA']]);
      expect(failed!.data.error.message).toBe('the file has no video stream');
      expect(target.state.opened).toBe(false);
    } finally {
      await target.release();
    }
  });
});

/**
 * A tool killed for memory (or time) is retried once; the second time in a row the job fails for good
 * with RESOURCE_LIMIT. No input keeps a worker busy for more than two attempts' caps.
 */
describe('a tool past its memory or wall-time cap', () => {
  let media: Awaited<ReturnType<typeof mediaDir>>;

  beforeAll(async () => {
    media = await mediaDir();
  });

  afterAll(async () => {
    await media?.cleanup();
  });

  it('a transcode over FFMPEG_MEMORY_MB: RESOURCE_LIMIT, retried once, then final', async () => {
    const w = await startWorker('small-worker', { FFMPEG_MEMORY_MB: '1024', FFMPEG_THREADS: '2' });
    try {
      const path = await makeVideo(join(media.dir, 'small.mp4'), { seconds: 0.2, width: 160, height: 120, fps: 25 });
      // An 8K rendition: x264 alone needs more than a GiB for it.
      const { failures, failed } = await w.runJob(await readFile(path), 'video/mp4', 'transcode', { height: 4320, preset: 'ultrafast' });
      expect(failures).toEqual([
        [1, false, 'RESOURCE_LIMIT'],
        [2, true, 'RESOURCE_LIMIT'],
      ]);
      expect(failed!.data.error.message).toMatch(/^ffmpeg ran out of its memory cap of 1024 MiB \(FFMPEG_MEMORY_MB\): .* \(the attempt before was stopped for RESOURCE_LIMIT too: not retried again\)$/);
    } finally {
      await w.close();
    }
  }, 180_000);

  it('an ffprobe -count_packets past FFPROBE_TIMEOUT_MS: RESOURCE_LIMIT, retried once, then final', async () => {
    // An ffprobe that takes its time only when it counts packets (a Matroska file states no frame count).
    const slow = join(media.dir, 'ffprobe-slow-count.sh');
    await writeFile(slow, ['#!/bin/sh', 'case " $* " in *" -count_packets "*)', '  i=0; while [ $i -lt 600 ] && kill -0 "$PPID" 2>/dev/null; do sleep 0.1; i=$((i+1)); done; exit 1;;', 'esac', 'exec ffprobe "$@"', ''].join('\n'), { mode: 0o755 });
    const w = await startWorker('probe-worker', { FFPROBE_PATH: slow, FFPROBE_TIMEOUT_MS: '1000' });
    try {
      const path = join(media.dir, 'clip.mkv');
      await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '1', '-c:v', 'mpeg4', path]);
      const { submitted, failures, failed } = await w.runJob(await readFile(path), 'video/x-matroska', 'probe');
      expect(failures).toEqual([
        [1, false, 'RESOURCE_LIMIT'],
        [2, true, 'RESOURCE_LIMIT'],
      ]);
      expect(failed!.data.error.message).toMatch(/^ffprobe ran longer than 1000 ms \(FFPROBE_TIMEOUT_MS\) counting the packets/);
      // A redrive starts afresh: the failure before it does not count, so its first attempt is retried again.
      expect(await w.redrive(submitted, 3)).toEqual([
        [3, false, 'RESOURCE_LIMIT'],
        [4, true, 'RESOURCE_LIMIT'],
      ]);
    } finally {
      await w.close();
    }
  }, 120_000);
});
