import { execFile } from 'node:child_process';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import type { JobEvent, JobSplit, PartStarted } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { WORK_CONSUMER } from '../../apps/worker/src/work/work.consumer.js';
import { eventually, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { TestSystem } from '../support/system.js';
import { ffmpeg, frameTimes, mediaDir } from '../support/videos.js';

const execFileAsync = promisify(execFile);

/** What each job asks for: parts of about 4 s, encoded slowly enough that a part is caught running. */
const PARAMS = { split_seconds: 4, preset: 'medium', height: 480 };

/** An ffmpeg process running now: its pid, its parent's and its command line. */
interface FfmpegProcess {
  pid: number;
  ppid: number;
  cmdline: string;
}

/** Every ffmpeg process on the machine, from /proc (a worker runs ffmpeg as its own child). */
async function ffmpegProcesses(): Promise<FfmpegProcess[]> {
  const found: FfmpegProcess[] = [];
  for (const entry of await readdir('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = await readFile(`/proc/${entry}/stat`, 'utf8');
      // "pid (comm) state ppid ...": the name may hold spaces and parentheses, so read from the last ")".
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      if (comm !== 'ffmpeg') continue;
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      const cmdline = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ');
      found.push({ pid: Number(entry), ppid, cmdline });
    } catch {
      // The process ended while it was being read.
    }
  }
  return found;
}

/**
 * The ffmpeg processes working on a job: the worker downloads the upload into a scratch directory
 * named after the job (`framewire-<first 8 characters of its id>-`), which every ffmpeg of the job reads.
 */
const ffmpegOfJob = async (jobId: string) => (await ffmpegProcesses()).filter((p) => p.cmdline.includes(`framewire-${jobId.slice(0, 8)}-`));

/** What a full decode of the file says; nothing for a file that decodes from start to end. */
async function decodeErrors(path: string): Promise<string> {
  const { stdout, stderr } = await execFileAsync('ffmpeg', ['-nostdin', '-v', 'error', '-i', path, '-f', 'null', '-'], { maxBuffer: 16 * 1024 * 1024 });
  return `${stdout}${stderr}`;
}

/** The parts of a job's parts view, as GET /v1/jobs/{id} shows them. */
interface PartView {
  index: number;
  start: number;
  end: number | null;
  status: string;
  attempts: number;
  worker_id: string | null;
  progress: number;
}

/**
 * Split jobs (issue #19) through the built apps as separate processes: a gateway, the jobs service
 * and three workers (one ffmpeg thread and one job at a time each), on a video whose parts take a few
 * seconds to encode. A worker SIGKILLed while it makes a part costs that part only; a cancel over
 * HTTP stops every part and kills their ffmpeg processes; GET /v1/jobs/{id} shows the parts.
 */
describe('split jobs across worker processes', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let system: TestSystem;
  let store: EventStore;
  let base: string;
  let source: string;
  let sourceFrames: number;
  /** The workers started, by the name each runs under (its WORKER_ID too); a killed one stays listed. */
  const workers = ['split-w1', 'split-w2', 'split-w3'];

  const eventsOf = async (jobId: string): Promise<Array<{ seq: number; event: JobEvent }>> =>
    (await store.readJob(jobId)).flatMap((item) => (item.ok ? [{ seq: item.stored.seq, event: item.stored.event }] : []));

  const pidOf = (worker: string): number => system.get(worker).child.pid!;

  async function submit(): Promise<string> {
    const res = await system.submitFile(base, source, { pipeline: 'transcode', params: JSON.stringify(PARAMS) });
    expect(res.status).toBe(202);
    return ((await res.json()) as { job_id: string }).job_id;
  }

  /**
   * Waits until the job has parts running: started, not ended in the stream, and their worker has an
   * ffmpeg of the job as its child right now (so the part is in the middle of its encode). At least
   * `count` of them; each with its worker's name.
   */
  async function runningParts(jobId: string, count: number): Promise<Array<{ started: PartStarted; worker: string }>> {
    return eventually(
      async () => {
        const events = (await eventsOf(jobId)).map((e) => e.event);
        const ended = new Set(events.flatMap((e) => (e.type === 'PartCompleted' || e.type === 'PartFailed' ? [`${e.data.index}/${e.data.partAttempt}`] : [])));
        const open = events.filter((e): e is PartStarted => e.type === 'PartStarted' && !ended.has(`${e.data.index}/${e.data.partAttempt}`));
        const encoding = new Set((await ffmpegOfJob(jobId)).map((p) => p.ppid));
        const running = open.flatMap((started) => {
          const worker = workers.find((name) => name === started.data.workerId && system.alive(name));
          return worker && encoding.has(pidOf(worker)) ? [{ started, worker }] : [];
        });
        return running.length >= count ? running : undefined;
      },
      60_000,
      `${count} parts of job ${jobId} to be encoding`,
    );
  }

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    store = new EventStore(ns.nc, ns.subjects);
    system = new TestSystem({
      NATS_URL: TEST_NATS_URL,
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: db.schema,
      FRAMEWIRE_NAMESPACE: ns.namespace,
      // A killed worker's part comes back after 3 s; a running part heartbeats every second.
      WORKER_ACK_WAIT_MS: '3000',
      WORKER_CONCURRENCY: '1',
      FFMPEG_THREADS: '1',
      // The workers' scratch directories in the test's own: what the killed worker leaves goes with it.
      WORK_DIR: media.dir,
    });
    system.start('jobs', 'jobs');
    base = await system.startGateway();
    await system.get('jobs').waitForLine(/jobs service ready/);
    await system.authenticate();
    for (const name of workers) system.start(name, 'worker', { WORKER_ID: name });
    await Promise.all(workers.map((name) => system.get(name).waitForLine(/worker pulling jobs/)));
    // 36 s of 640x480 with sound and a key frame every second: nine parts of 4 s.
    source = join(media.dir, 'source.mp4');
    await ffmpeg(['-f', 'lavfi', '-i', 'testsrc2=size=640x480:rate=25', '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100', '-t', '36', '-c:v', 'libx264', '-preset', 'ultrafast', '-g', '25', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', source]);
    sourceFrames = (await frameTimes(source)).length;
  }, 120_000);

  afterAll(async () => {
    await system?.stopAll('SIGKILL');
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('a worker SIGKILLed in the middle of a part costs that part only: it runs twice, every other part once, each completes once, and the joined output has every frame', async () => {
    const jobId = await submit();
    const [victim] = await runningParts(jobId, 1);
    expect(await system.get(victim!.worker).stop('SIGKILL')).toBe('SIGKILL');
    // A worker in its place: the fleet goes on with three.
    system.start(`${victim!.worker}-successor`, 'worker', { WORKER_ID: `${victim!.worker}-successor` });
    workers.push(`${victim!.worker}-successor`);

    const events = await eventually(
      async () => {
        const all = (await eventsOf(jobId)).map((e) => e.event);
        return all.some((e) => e.type === 'JobCompleted' || e.type === 'JobFailed') ? all : undefined;
      },
      120_000,
      'the job to end',
    );
    expect(events.at(-1)!.type).toBe('JobCompleted');
    const splits = events.filter((e): e is JobSplit => e.type === 'JobSplit');
    expect(splits).toHaveLength(1);
    const parts = splits[0]!.data.parts;
    expect(parts.length).toBeGreaterThanOrEqual(8);
    expect(events.filter((e) => e.type === 'PartFailed')).toEqual([]);

    // Each part completed exactly once; the part the victim was making started twice, the second
    // time on another worker; every other part started once.
    const startsOf = (index: number) => events.filter((e): e is PartStarted => e.type === 'PartStarted' && e.data.index === index);
    for (const part of parts) expect(events.filter((e) => e.type === 'PartCompleted' && e.data.index === part.index)).toHaveLength(1);
    const twice = parts.filter((part) => startsOf(part.index).length !== 1);
    expect(twice.map((part) => startsOf(part.index).map((s) => [s.data.partAttempt, s.data.workerId === victim!.worker]))).toEqual([
      [
        [1, true],
        [2, false],
      ],
    ]);
    // Its completion is the second attempt's, on the worker that started that attempt.
    const rerun = startsOf(twice[0]!.index)[1]!;
    expect(events.find((e) => e.type === 'PartCompleted' && e.data.index === twice[0]!.index)).toMatchObject({ data: { partAttempt: 2, workerId: rerun.data.workerId } });
    expect(events.filter((e) => e.type === 'JoinRequested')).toHaveLength(1);
    expect(events.filter((e) => e.type === 'JobCompleted')).toHaveLength(1);

    // The joined output decodes from start to end and holds every frame of the source.
    const res = await system.fetch(`${base}/v1/jobs/${jobId}/artifacts/rendition-480p.mp4`);
    expect(res.status).toBe(200);
    const out = join(media.dir, `${jobId}.mp4`);
    await writeFile(out, Buffer.from(await res.arrayBuffer()));
    expect(await decodeErrors(out)).toBe('');
    expect((await frameTimes(out)).length).toBe(sourceFrames);

    // The read model shows every part made, by whom, and the killed part's two attempts.
    const view = await eventually(async () => {
      const job = (await (await system.fetch(`${base}/v1/jobs/${jobId}`)).json()) as { status: string; parts: PartView[] };
      return job.status === 'completed' ? job : undefined;
    }, 30_000, 'GET /v1/jobs/{id} to show the job completed');
    const completedBy = new Map(events.flatMap((e) => (e.type === 'PartCompleted' ? [[e.data.index, e.data.workerId] as const] : [])));
    expect(view.parts).toEqual(
      parts.map((part) => ({
        index: part.index,
        start: part.start,
        end: part.end,
        status: 'completed',
        attempts: part.index === twice[0]!.index ? 2 : 1,
        worker_id: completedBy.get(part.index),
        progress: 100,
      })),
    );
    // The victim's ffmpeg may outlive it (a SIGKILL leaves a process's children running): gone with the test.
    for (const orphan of await ffmpegOfJob(jobId)) process.kill(orphan.pid, 'SIGKILL');
  }, 180_000);

  it('a cancel over HTTP while parts run stops every part: the job is cancelled, its ffmpeg processes die, and nothing of a part is appended after it', async () => {
    const jobId = await submit();
    const running = await runningParts(jobId, 2);
    // The parts running now, as GET /v1/jobs/{id} shows them once the read model has their starts.
    const during = await eventually(async () => {
      const job = (await (await system.fetch(`${base}/v1/jobs/${jobId}`)).json()) as { status: string; parts: PartView[] };
      const shown = running.every(({ started }) => job.parts.some((p) => p.index === started.data.index && p.worker_id === started.data.workerId && (p.status === 'running' || p.status === 'completed')));
      return shown ? job : undefined;
    }, 30_000, 'GET /v1/jobs/{id} to show the running parts');
    expect(during.status).toBe('running');
    expect(during.parts.length).toBeGreaterThanOrEqual(8);
    expect(during.parts.filter((p) => !['queued', 'running', 'completed'].includes(p.status))).toEqual([]);

    const cancel = await system.fetch(`${base}/v1/jobs/${jobId}/cancel`, { method: 'POST' });
    expect({ status: cancel.status, body: await cancel.json() }).toMatchObject({ status: 202, body: { status: 'cancelled' } });
    // Every ffmpeg of the job is gone: the workers killed them when the cancel reached them.
    await eventually(async () => ((await ffmpegOfJob(jobId)).length === 0 ? true : undefined), 10_000, "the job's ffmpeg processes to die");
    // Every work message of the job has been taken and settled: no worker holds a part that could still append.
    const jsm = await jetstreamManager(ns.nc);
    await eventually(async () => {
      const work = await jsm.consumers.info(ns.subjects.streamName, WORK_CONSUMER);
      return work.num_pending === 0 && work.num_ack_pending === 0 ? true : undefined;
    }, 30_000, 'the work consumer to settle');
    for (const { worker } of running) await system.get(worker).waitForLine(new RegExp(`"jobId":"${jobId}".*stopping this part|stopping this part.*"jobId":"${jobId}"`), 10_000);

    const events = await eventsOf(jobId);
    const cancelled = events.findIndex((e) => e.event.type === 'JobCancelled');
    expect(cancelled).toBeGreaterThan(0);
    expect(events[cancelled - 1]!.event.type).toBe('JobCancelRequested');
    expect(events.slice(cancelled + 1).map((e) => e.event.type)).toEqual([]);
    expect(events.filter((e) => e.event.type === 'JoinRequested' || e.event.type === 'JobCompleted')).toEqual([]);
    // The workers stopped the attempts, not themselves.
    for (const { worker } of running) expect(system.alive(worker)).toBe(true);
    const after = await eventually(async () => {
      const job = (await (await system.fetch(`${base}/v1/jobs/${jobId}`)).json()) as { status: string; parts: PartView[] };
      return job.status === 'cancelled' ? job : undefined;
    }, 30_000, 'GET /v1/jobs/{id} to show the job cancelled');
    expect(after.parts.map((p) => p.index)).toEqual(during.parts.map((p) => p.index));
  }, 120_000);
});
