import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Test, type TestingModule } from '@nestjs/testing';
import type { JobEvent, PartCompleted } from '@app/contracts';
import { parseConfig, workerEnvSchema } from '@app/config';
import { EventStore } from '@app/event-store';
import { BlobStore } from '@app/blob-store';
import { runCommand } from '@app/job-commands';
import { fold, toJobView } from '@app/job-state';
import { createLogger } from '@app/observability';
import { eventually, freshNamespace, IN_PROCESS_OPS, objectNames, TEST_NATS_URL, type TestNamespace } from '../../../test/support/services.js';
import { audioPackets, ffmpeg, frameTimes, mediaDir } from '../../../test/support/videos.js';
import { downloadObject, runWorkerJob, submitWorkerJob } from '../../../test/support/worker-jobs.js';
import { WorkerModule } from './worker.module.js';

/** A stamp for commands the test gives as an operator would. */
const stamp = () => ({ at: new Date().toISOString(), nextId: () => crypto.randomUUID() });

/**
 * Split jobs (issue #19) through real workers: two worker processes' worth of modules in this
 * process share the work consumers of one namespace, against a real stream and Object Store, with
 * real ffmpeg. What is checked is the event log: one split, exactly one start and one end per part,
 * one join, one JobCompleted; a cancel that stops every part; a redrive that makes only the parts
 * that were not made.
 */
describe('split jobs across workers', () => {
  let ns: TestNamespace;
  let store: EventStore;
  let blobs: BlobStore;
  const workers: TestingModule[] = [];
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let short: string;
  let long: string;

  async function eventsOf(jobId: string): Promise<Array<{ seq: number; event: JobEvent }>> {
    const items = await store.readJob(jobId);
    return items.flatMap((item) => (item.ok ? [{ seq: item.stored.seq, event: item.stored.event }] : []));
  }


  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    media = await mediaDir();
    // A key frame every second, so that 2 s parts start where they are asked to.
    short = join(media.dir, 'short.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=320x240:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '9', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', short]);
    long = join(media.dir, 'long.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x480:rate=25', '-t', '24', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', long]);
    for (const id of ['split-a', 'split-b']) {
      const config = parseConfig(workerEnvSchema, { ...IN_PROCESS_OPS, FRAMEWIRE_NAMESPACE: ns.namespace, NATS_URL: TEST_NATS_URL, WORKER_ID: id, WORKER_CONCURRENCY: '2', FFMPEG_THREADS: '1' });
      const worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
      await worker.init();
      workers.push(worker);
    }
  }, 120_000);

  afterAll(async () => {
    for (const worker of workers) await worker.close();
    await ns?.cleanup();
    await media?.cleanup();
  });

  it('cuts a video into parts, makes each exactly once on any worker, joins them into the output an unsplit run names, and removes the parts', async () => {
    const job = await runWorkerJob(store, blobs, short, 'transcode', { split_seconds: 2, preset: 'ultrafast' }, 120_000);
    const events = job.events;
    const split = events.filter((e) => e.type === 'JobSplit');
    expect(split).toHaveLength(1);
    const parts = split[0]!.type === 'JobSplit' ? split[0]!.data.parts : [];
    expect(parts.length).toBeGreaterThanOrEqual(4);
    expect(parts[0]!.start).toBe(0);
    expect(parts.at(-1)!.end).toBeNull();
    for (const part of parts) {
      expect(events.filter((e) => e.type === 'PartRequested' && e.data.part.index === part.index)).toHaveLength(1);
      expect(events.filter((e) => e.type === 'PartStarted' && e.data.index === part.index)).toHaveLength(1);
      expect(events.filter((e) => e.type === 'PartCompleted' && e.data.index === part.index)).toHaveLength(1);
    }
    expect(events.filter((e) => e.type === 'JoinRequested')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'JobCompleted')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'JobStarted')).toHaveLength(1);
    // The same result shape as a whole run: one rendition, named the same.
    expect([...job.artifacts.keys()]).toEqual(['rendition-360p.mp4']);
    expect(job.result.tools['transcode']!.data!['rendition']).toMatchObject({ name: 'rendition-360p.mp4', height: 360, video_codec: 'h264', audio_codec: 'aac' });
    // Every frame of the source, once, in a file that decodes.
    const out = join(media.dir, `${job.completed.jobId}.mp4`);
    await writeFile(out, await downloadObject(blobs, job.artifacts.get('rendition-360p.mp4')!.objectName));
    expect((await frameTimes(out)).length).toBe((await frameTimes(short)).length);
    // The first part made the audio (the join copied it): the very packets of an unsplit run's.
    expect(events.some((e) => e.type === 'PartCompleted' && e.data.index === 0 && e.data.artifacts.some((a) => a.name === 'part-0000-audio.m4a'))).toBe(true);
    const whole = await runWorkerJob(store, blobs, short, 'transcode', { preset: 'ultrafast' }, 120_000);
    const wholeOut = join(media.dir, `${whole.completed.jobId}.mp4`);
    await writeFile(wholeOut, await downloadObject(blobs, whole.artifacts.get('rendition-360p.mp4')!.objectName));
    const audio = await audioPackets(out);
    expect(audio.packets.length).toBeGreaterThan(100);
    expect(audio).toEqual(await audioPackets(wholeOut));
    // The parts' files went with the join; the read model's view lists every part as made, by a worker.
    const left = (await objectNames(ns.nc, ns.subjects)).filter((name) => name.startsWith(`artifacts/${job.completed.jobId}/1/parts/`));
    expect(left).toEqual([]);
    const view = toJobView(fold(events)!, 0);
    expect(view.parts.map((p) => p.status)).toEqual(parts.map(() => 'completed'));
    expect(view.parts.every((p) => p.attempts === 1 && p.worker_id !== null)).toBe(true);
    expect(view.artifacts.map((a) => a.name)).toEqual(['rendition-360p.mp4']);
  }, 180_000);

  it('an hls job split into parts ends with the artifacts an unsplit run stores, each part made once', async () => {
    const job = await runWorkerJob(store, blobs, short, 'hls', { split_seconds: 4, segment_seconds: 2, renditions: [240], preset: 'ultrafast' }, 120_000);
    const parts = job.events.filter((e) => e.type === 'PartCompleted');
    expect(parts.length).toBeGreaterThanOrEqual(2);
    expect(new Set(parts.map((e) => (e.type === 'PartCompleted' ? e.data.index : -1))).size).toBe(parts.length);
    expect([...job.artifacts.keys()].sort()).toEqual(['hls-240p.m3u8', 'hls-240p.mp4', 'hls-audio.m3u8', 'hls-audio.mp4', 'master.m3u8']);
    const playlist = (await downloadObject(blobs, job.artifacts.get('hls-240p.m3u8')!.objectName)).toString('utf8');
    expect(playlist.match(/#EXTINF:/g)!.length).toBe(5);
  }, 180_000);

  it('a cancel stops every part (nothing of a part is appended after it), and a redrive makes only the parts that were not made', async () => {
    const submitted = await submitWorkerJob(store, blobs, long, 'transcode', { split_seconds: 2, preset: 'medium', height: 480 });
    const jobId = submitted.jobId;
    await eventually(async () => ((await eventsOf(jobId)).some((e) => e.event.type === 'PartCompleted') ? true : undefined), 120_000, 'a part to complete');
    const cancel = await runCommand(store, { kind: 'RequestCancel', jobId, scope: { kind: 'all' }, requestedBy: null, reason: 'test', stamp: stamp() });
    expect(cancel.kind).toBe('appended');
    store.nudgeCancel(jobId);
    const cancelledSeq = cancel.kind === 'appended' ? cancel.stored.at(-1)!.seq : 0;
    expect(cancel.kind === 'appended' && cancel.stored.map((s) => s.event.type)).toEqual(['JobCancelRequested', 'JobCancelled']);
    // Give the running parts time to hear it, stop, and try whatever they would append.
    await new Promise((resolve) => setTimeout(resolve, 3000));
    const afterCancel = (await eventsOf(jobId)).filter((e) => e.seq > cancelledSeq);
    expect(afterCancel.map((e) => e.event.type)).toEqual([]);
    const first = await eventsOf(jobId);
    const made = first.filter((e): e is { seq: number; event: PartCompleted } => e.event.type === 'PartCompleted').map((e) => e.event.data.index);
    expect(made.length).toBeGreaterThan(0);

    const redrive = await runCommand(store, { kind: 'Redrive', jobId, scope: { kind: 'all' }, requestedBy: null, stamp: stamp() });
    expect(redrive.kind).toBe('appended');
    const all = await eventually(async () => {
      const events = await eventsOf(jobId);
      return events.some((e) => e.event.type === 'JobCompleted' || (e.event.type === 'JobFailed' && e.event.data.final)) ? events : undefined;
    }, 240_000, 'the redriven job to end');
    const ended = all.at(-1)!.event;
    expect(ended.type).toBe('JobCompleted');
    const splits = all.map((e) => e.event).filter((e) => e.type === 'JobSplit');
    expect(splits).toHaveLength(2);
    const [one, two] = splits as Array<Extract<JobEvent, { type: 'JobSplit' }>>;
    // The same cut points, the parts made before kept, and only the others asked for again.
    expect(two!.data.parts).toEqual(one!.data.parts);
    expect([...two!.data.kept].sort((a, b) => a - b)).toEqual([...made].sort((a, b) => a - b));
    const askedAgain = all.map((e) => e.event).filter((e) => e.type === 'PartRequested' && e.data.attempt === two!.data.attempt).map((e) => (e.type === 'PartRequested' ? e.data.part.index : -1));
    expect(askedAgain.sort((a, b) => a - b)).toEqual(one!.data.parts.map((p) => p.index).filter((i) => !made.includes(i)));
    for (const index of made) expect(all.filter((e) => e.event.type === 'PartStarted' && e.event.data.index === index && e.event.data.attempt === two!.data.attempt)).toHaveLength(0);
    const completed = ended.type === 'JobCompleted' ? ended : null;
    const out = join(media.dir, `${jobId}.mp4`);
    await writeFile(out, await downloadObject(blobs, completed!.data.artifacts[0]!.objectName));
    expect((await frameTimes(out)).length).toBe((await frameTimes(long)).length);
  }, 400_000);
});
