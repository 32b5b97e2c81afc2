import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import type { JobEvent } from '@app/contracts';
import { BlobStore } from '@app/blob-store';
import type { StoredJobEvent } from '@app/event-store';
import { videoSubmitted } from '../test/support/events.js';
import { cachedVideo } from '../test/support/videos.js';
import { FramewireUnderTest } from './lib/framewire.js';
import { round } from './lib/stats.js';
import type { BenchContext, Benchmark, Measurement } from './lib/types.js';

const run = promisify(execFile);

const WORKERS = [1, 2, 4] as const;
const ID = 'p7';
const TITLE = 'P7: split transcode across worker processes';

/**
 * Each worker as the issue asks: one slot, and every ffmpeg (and ffprobe) it runs on one thread. At
 * debug level the worker times each step's download, probe and tool (read back for the breakdown).
 */
const WORKER_ENV = { WORKER_CONCURRENCY: '1', FFMPEG_THREADS: '1', LOG_LEVEL: 'debug' };

/**
 * The source and the split. A key frame every second, so that every cut falls exactly on a multiple
 * of the split length. 15 s parts cut two minutes into 8 equal parts: 8 is a multiple of 1, 2 and 4,
 * so every worker count gets the same number of parts per worker and no worker waits alone on a last
 * part; and each part (about 15 s of 720p to encode on one thread) is long against what every part
 * pays once (a download and a probe of the whole upload, its claim and completion appends).
 */
interface Spec {
  seconds: number;
  width: number;
  height: number;
  fps: number;
  splitSeconds: number;
}
const FULL: Spec = { seconds: 120, width: 1280, height: 720, fps: 30, splitSeconds: 15 };
const QUICK: Spec = { seconds: 6, width: 320, height: 240, fps: 30, splitSeconds: 2 };

/** The command that makes the source: testsrc2 (moving, so that it costs something to encode) with a tone, x264 with a closed 1 s GOP. */
function sourceArgs(spec: Spec, out: string): string[] {
  return [
    '-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${spec.width}x${spec.height}:rate=${spec.fps}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(spec.seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-g', String(spec.fps), '-keyint_min', String(spec.fps), '-sc_threshold', '0',
    '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', '-f', 'mp4', out,
  ];
}

/** One job's timeline, from the stream's own timestamps (ms since the VideoSubmitted was stored). */
interface Timeline {
  /** VideoSubmitted stored → JobCompleted stored. */
  totalMs: number;
  /** VideoSubmitted → JobStarted: the queue. */
  pickupMs: number;
  /** JobStarted → JobSplit: download, probe, key frames, the split's append. Null when the job ran whole. */
  splitMs: number | null;
  /** JoinRequested → JobCompleted: the join's pickup, download of upload and parts, probe, concat and audio, upload, append. */
  joinMs: number | null;
  /** JobSplit → JoinRequested: the parts, from the first request to the last completion. */
  partsMs: number | null;
  parts: Array<{ index: number; worker: string; waitMs: number; runMs: number; reportedMs: number }>;
  /** The CPU that the worker processes and their ffmpeg/ffprobe children used during the job. */
  cpuMs: number;
  /**
   * Cores the whole machine kept busy on average over the job (every process: the workers, nats-server,
   * the jobs service, PostgreSQL and whatever else runs), from /proc/stat; at most the core count.
   */
  machineBusyCores?: number;
  /** Where the time of each step went, from the workers' debug lines (ms). */
  steps?: Steps;
}

/** The workers' own timings of a job's steps. */
interface Steps {
  /** The whole run's (unsplit), or the split's, download and probe of the upload; the split's key frame read. */
  first: { downloadMs: number; probeMs: number; keyframesMs: number | null } | null;
  /** Per part: its download and probe of the upload, and its tool (seek, encode, store the part's files). */
  parts: Array<{ part: number; downloadMs: number; probeMs: number; toolMs: number }>;
  /** The join's download and probe of the upload, its download of the parts, and its tool (concat, audio, store). */
  join: { downloadMs: number; probeMs: number; partsDownloadMs: number; toolMs: number } | null;
}

const bench: Benchmark = {
  id: ID,
  title: TITLE,
  // Four runs of a two-minute 720p transcode on one thread each, on two shared cores.
  timeoutMs: 15 * 60_000,
  async run(ctx) {
    const spec = ctx.quick ? QUICK : FULL;
    const video = await source(ctx, spec);
    const bytes = await readFile(video);
    const params = { preset: 'veryfast' };
    const fw = await new FramewireUnderTest(ctx).open();
    const runs: Record<string, Timeline> = {};
    try {
      await fw.startJobs();
      const blobs = await BlobStore.open(fw.nc, fw.subjects.videoBucket);
      const stored = await blobs.putBytes('uploads/bench/p7.mp4', bytes, 'video/mp4');
      const upload = { objectName: stored.name, size: bytes.length, sha256: stored.sha256 };

      const started: string[] = [];
      const startWorkers = async (count: number) => {
        const more = Array.from({ length: count - started.length }, (_, i) => `worker-${started.length + i + 1}`);
        await Promise.all(more.map((name) => fw.start(name, 'worker', { ...WORKER_ENV, WORKER_ID: `bench-p7-${name}` })));
        started.push(...more);
      };
      // The CPU of every worker process and its ffmpeg children over the job: less disturbed than wall
      // time by whatever else the machine runs.
      const submit = async (jobParams: Record<string, unknown>) => {
        const pids = started.map((name) => fw.service(name)!.child.pid!);
        const before = await cpuOf(pids);
        const machineBefore = await machineCpu();
        const result = await timeJob(ctx, fw, jobParams, upload);
        const machineAfter = await machineCpu();
        const machineBusyCores = round((machineAfter.busy - machineBefore.busy) / (machineAfter.total - machineBefore.total) * machineAfter.cores, 2);
        return { ...result, cpuMs: (await cpuOf(pids)) - before, machineBusyCores, steps: stepsOf(started.map((name) => fw.service(name)!.output()), result.jobId) };
      };

      await startWorkers(1);
      runs['unsplit'] = await submit(params);
      ctx.log(`unsplit, 1 worker: ${describe(runs['unsplit']!)}`);
      for (const workers of WORKERS) {
        ctx.signal?.throwIfAborted();
        await startWorkers(workers);
        runs[`split-${workers}`] = await submit({ ...params, split_seconds: spec.splitSeconds });
        ctx.log(`split, ${workers} worker(s): ${describe(runs[`split-${workers}`]!)}`);
      }
    } finally {
      await fw.close();
    }
    return report(spec, params, runs);
  },
};
export default bench;

/** The full source is made once per machine (it takes a minute and more on two cores); the quick one every time, in seconds. */
async function source(ctx: BenchContext, spec: Spec): Promise<string> {
  const make = async (out: string) => {
    ctx.log(`making a ${spec.seconds} s ${spec.width}x${spec.height} ${spec.fps} fps H.264 video with AAC audio, a key frame every second`);
    await run('ffmpeg', sourceArgs(spec, out));
  };
  if (ctx.quick) {
    const out = join(ctx.workDir, 'p7.mp4');
    await make(out);
    return out;
  }
  return cachedVideo(`p7-${spec.width}x${spec.height}-${spec.fps}fps-${spec.seconds}s-gop1s-aac.mp4`, make);
}

/**
 * Appends a transcode job's VideoSubmitted (as the gateway would) and waits for its JobCompleted,
 * then reads the job's events back for the timeline.
 */
async function timeJob(ctx: BenchContext, fw: FramewireUnderTest, params: Record<string, unknown>, upload: { objectName: string; size: number; sha256: string }): Promise<Timeline & { jobId: string }> {
  const jobId = randomUUID();
  const event = videoSubmitted(jobId, {
    pipeline: 'transcode',
    params,
    video: { bucket: fw.subjects.videoBucket, objectName: upload.objectName, filename: 'p7.mp4', size: upload.size, contentType: 'video/mp4', sha256: upload.sha256 },
  });
  event.occurredAt = new Date().toISOString();
  await fw.store.append(event, 0);
  const deadline = Date.now() + 600_000;
  for (;;) {
    ctx.signal?.throwIfAborted();
    if (Date.now() > deadline) throw new Error(`the transcode job ${jobId} did not end within 600 s`);
    const last = await fw.store.lastLifecycle(jobId);
    const type = last?.ok ? last.stored.event.type : null;
    if (type === 'JobFailed' || type === 'JobCancelled') throw new Error(`the transcode job ended with ${type}: ${JSON.stringify(last?.ok ? last.stored.event.data : null)}`);
    if (type === 'JobCompleted') break;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const events = (await fw.store.readJob(jobId)).flatMap((item) => (item.ok ? [item.stored] : []));
  return { ...timeline(events), jobId };
}

/** The steps of job `jobId` as the workers' debug lines (pino JSON, one a line) time them. */
function stepsOf(outputs: string[], jobId: string): Steps {
  const lines = outputs.flatMap((text) => text.split('\n')).flatMap((line) => {
    try {
      const parsed = JSON.parse(line) as Record<string, unknown>;
      return parsed['jobId'] === jobId ? [parsed] : [];
    } catch {
      return [];
    }
  });
  const n = (line: Record<string, unknown> | undefined, key: string) => Number(line?.[key] ?? 0);
  const inputs = lines.filter((l) => l['msg'] === 'input downloaded and probed');
  const firstInput = inputs.find((l) => l['step'] === undefined || l['step'] === 'cut');
  const keyframes = lines.find((l) => l['msg'] === 'key frames read');
  const partInputs = inputs.filter((l) => l['step'] === 'part');
  const made = lines.filter((l) => l['msg'] === 'part made and stored');
  const joinInput = inputs.find((l) => l['step'] === 'join');
  const joined = lines.find((l) => l['msg'] === 'parts joined and stored');
  return {
    first: firstInput ? { downloadMs: n(firstInput, 'downloadMs'), probeMs: n(firstInput, 'probeMs'), keyframesMs: keyframes ? n(keyframes, 'keyframesMs') : null } : null,
    // A part's input line and its made line come from the same worker in order; paired by position among that part's lines.
    parts: made
      .map((line, i) => ({ part: n(line, 'part'), downloadMs: n(partInputs[i], 'downloadMs'), probeMs: n(partInputs[i], 'probeMs'), toolMs: n(line, 'toolMs') }))
      .sort((a, b) => a.part - b.part),
    join: joinInput && joined ? { downloadMs: n(joinInput, 'downloadMs'), probeMs: n(joinInput, 'probeMs'), partsDownloadMs: n(joined, 'partsDownloadMs'), toolMs: n(joined, 'toolMs') } : null,
  };
}

/** The timeline of one completed job from its stored events. */
function timeline(events: StoredJobEvent[]): Timeline {
  const first = (type: JobEvent['type'], where: (e: JobEvent) => boolean = () => true) => events.find((s) => s.event.type === type && where(s.event));
  const at = (stored: StoredJobEvent | undefined) => (stored ? stored.storedAt.getTime() : null);
  const submitted = at(first('VideoSubmitted'))!;
  const since = (stored: StoredJobEvent | undefined) => {
    const t = at(stored);
    if (t === null) throw new Error('the job lacks an event the timeline needs');
    return t - submitted;
  };
  const started = first('JobStarted');
  const split = first('JobSplit');
  const join = first('JoinRequested');
  const completed = first('JobCompleted');
  const parts: Timeline['parts'] = [];
  for (const requested of events.filter((s) => s.event.type === 'PartRequested')) {
    const index = requested.event.type === 'PartRequested' ? requested.event.data.part.index : -1;
    const partStarted = first('PartStarted', (e) => e.type === 'PartStarted' && e.data.index === index);
    const partDone = first('PartCompleted', (e) => e.type === 'PartCompleted' && e.data.index === index);
    const done = partDone?.event.type === 'PartCompleted' ? partDone.event.data : null;
    parts.push({
      index,
      worker: done?.workerId ?? '?',
      waitMs: since(partStarted) - since(requested),
      runMs: since(partDone) - since(partStarted),
      reportedMs: done?.durationMs ?? 0,
    });
  }
  return {
    totalMs: since(completed),
    pickupMs: since(started),
    splitMs: split ? since(split) - since(started) : null,
    joinMs: join ? since(completed) - since(join) : null,
    partsMs: split && join ? since(join) - since(split) : null,
    parts,
    cpuMs: 0,
  };
}

/**
 * User and system CPU of processes and of the children they have waited for (each ffmpeg and ffprobe
 * a worker ran and reaped), from /proc (Linux; USER_HZ is 100 on every Linux that Node supports).
 */
async function cpuOf(pids: number[]): Promise<number> {
  let ms = 0;
  for (const pid of pids) {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    // The command name may hold spaces; after it come the fixed fields, utime to cstime at 11 to 14.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    ms += [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) * 10;
  }
  return ms;
}

/** The machine's CPU counters from /proc/stat (in USER_HZ ticks, summed over cores): busy and total. */
async function machineCpu(): Promise<{ busy: number; total: number; cores: number }> {
  const stat = await readFile('/proc/stat', 'utf8');
  const [, ...values] = stat.split('\n')[0]!.trim().split(/\s+/);
  // user nice system idle iowait irq softirq steal (guest time is already inside user).
  const [user, nice, system, idle, iowait, irq, softirq, steal] = values.map(Number) as number[];
  const busy = user! + nice! + system! + irq! + softirq! + (steal ?? 0);
  const cores = stat.split('\n').filter((line) => /^cpu\d+ /.test(line)).length;
  return { busy, total: busy + idle! + (iowait ?? 0), cores };
}

const seconds = (ms: number | null) => (ms === null ? '-' : `${(ms / 1000).toFixed(1)} s`);

function describe(t: Timeline): string {
  const parts = t.parts.length ? `, ${t.parts.length} parts (${seconds(t.partsMs)}; part run median ${seconds(median(t.parts.map((p) => p.runMs)))}, wait max ${seconds(Math.max(...t.parts.map((p) => p.waitMs)))})` : '';
  const st = t.steps;
  const ms = (values: number[]) => `${Math.round(median(values))} ms`;
  const steps = !st
    ? ''
    : `; input download/probe ${st.first ? `${st.first.downloadMs}/${st.first.probeMs} ms${st.first.keyframesMs !== null ? `, key frames ${st.first.keyframesMs} ms` : ''}` : '-'}` +
      (st.parts.length ? `; per part (median) download ${ms(st.parts.map((p) => p.downloadMs))}, probe ${ms(st.parts.map((p) => p.probeMs))}, tool ${ms(st.parts.map((p) => p.toolMs))}` : '') +
      (st.join ? `; join download ${st.join.downloadMs} ms, probe ${st.join.probeMs} ms, parts download ${st.join.partsDownloadMs} ms, tool ${st.join.toolMs} ms` : '');
  return `${seconds(t.totalMs)} (pickup ${seconds(t.pickupMs)}, split ${seconds(t.splitMs)}, join ${seconds(t.joinMs)}${parts}; CPU ${seconds(t.cpuMs)}, machine busy ${t.machineBusyCores ?? '-'} cores${steps})`;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length === 0 ? 0 : sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

function report(spec: Spec, params: Record<string, unknown>, runs: Record<string, Timeline>) {
  const one = runs['split-1']!;
  const unsplit = runs['unsplit']!;
  const share = (ms: number | null, of: number) => (ms === null ? null : round(ms / of, 3));
  const measurements: Measurement[] = [
    { name: 'unsplit, 1 worker process (reference)', unit: 's', value: round(unsplit.totalMs / 1000, 2), extra: { ...unsplit } },
  ];
  for (const workers of WORKERS) {
    const t = runs[`split-${workers}`]!;
    const extra = {
      split_share: share(t.splitMs, t.totalMs),
      join_share: share(t.joinMs, t.totalMs),
      parts_by_worker: Object.fromEntries([...new Set(t.parts.map((p) => p.worker))].map((w) => [w, t.parts.filter((p) => p.worker === w).length])),
      ...t,
    };
    measurements.push({
      name: `split, ${workers} worker process${workers > 1 ? 'es' : ''}`,
      unit: 's',
      value: round(t.totalMs / 1000, 2),
      ...(workers > 1 ? { baseline: { name: 'split, 1 worker process', value: round(one.totalMs / 1000, 2) } } : { baseline: { name: 'unsplit, 1 worker process', value: round(unsplit.totalMs / 1000, 2) } }),
      extra,
    });
  }
  for (const workers of [2, 4] as const) {
    const speedUp = one.totalMs / runs[`split-${workers}`]!.totalMs;
    measurements.push({
      name: `speed-up, ${workers} workers against 1`,
      unit: '×',
      value: round(speedUp, 3),
      ...(workers === 2 ? { goal: '≥ 1.8× one worker', met: speedUp >= 1.8 } : {}),
    });
  }
  for (const workers of WORKERS) {
    const t = runs[`split-${workers}`]!;
    measurements.push({ name: `split + join share of the whole, ${workers} worker${workers > 1 ? 's' : ''}`, unit: '%', value: round((100 * ((t.splitMs ?? 0) + (t.joinMs ?? 0))) / t.totalMs, 1), extra: { split_ms: t.splitMs, join_ms: t.joinMs, total_ms: t.totalMs } });
  }
  const parts = one.parts.length;
  return {
    id: ID,
    title: TITLE,
    measurements,
    notes: [
      `${spec.seconds} s ${spec.width}x${spec.height} ${spec.fps} fps H.264 (testsrc2, a key frame every second) with AAC audio, transcoded to the tool's defaults (360p, x264 ${String(params['preset'])}, crf 23) with split_seconds ${spec.splitSeconds}: ${parts} parts${parts % 4 === 0 ? ', a multiple of every worker count' : ''}; each worker process has WORKER_CONCURRENCY=1 and FFMPEG_THREADS=1, on a machine with 2 cores.`,
      'Times from the stream: the whole is VideoSubmitted stored → JobCompleted stored; the split JobStarted → JobSplit (download, probe, key frames); the join JoinRequested → JobCompleted (pickup, downloads of the upload and the parts, concat without re-encoding, the audio copied from the first part, which encoded it, upload). CPU: the worker processes and their ffmpeg and ffprobe children over the job; the machine\'s busy cores from /proc/stat (everything on it).',
      'One run per configuration, in the order unsplit, split on 1, 2, 4 workers (workers are added, never restarted).',
    ],
  };
}
