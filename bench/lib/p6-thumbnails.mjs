// P6: the `thumbnails` pipeline against the same raw ffmpeg command, measured in one run.
// Plain JavaScript on purpose: it runs from the built apps (dist/), with or without `npm run bench`
// (see bench/p6-thumbnails.mjs to run it alone). bench/p6-thumbnails.bench.ts wraps it for the harness.
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { connect, headers } from '@nats-io/transport-node';

const run = promisify(execFile);

/** The median of a list of numbers (exported for P8). */
export function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

/** Runs ffmpeg with the tool's own arguments (no -progress: nobody reads it). Exported for P8. */
export async function rawFfmpeg(args) {
  const started = performance.now();
  await run('ffmpeg', ['-hide_banner', '-nostdin', '-y', '-v', 'error', ...args], { maxBuffer: 64 * 1024 * 1024 });
  return performance.now() - started;
}

/** Starts the built worker as a process and resolves once it pulls jobs. Exported for P8. */
export function startWorker(repoRoot, env) {
  const child = spawn(process.execPath, [join(repoRoot, 'dist/apps/worker/apps/worker/src/main.js')], {
    env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', LOG_LEVEL: 'debug', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const ready = new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk.toString();
      if (output.includes('worker pulling jobs')) resolve(undefined);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.once('exit', (code) => reject(new Error(`worker exited (${code}) before it was ready:\n${output.slice(-2000)}`)));
  });
  return { child, ready, output: () => output };
}

/**
 * @param {{ natsUrl: string; workDir: string; repoRoot: string; quick: boolean; log(message: string): void }} ctx
 */
/**
 * Appends a job's VideoSubmitted as the gateway does (nothing of the job before it, on any of its
 * subjects) and waits for its stored JobCompleted. Resolves with the time between the two, both read
 * from the stream's timestamps, and the JobCompleted event; rejects when the job failed or timed out.
 */
export async function timeStreamJob({ js, jsm, stream, namespace, pipeline, params, video, correlationId, timeoutMs }) {
  const jobId = randomUUID();
  const event = {
    eventId: randomUUID(), jobId, type: 'VideoSubmitted', version: 2, occurredAt: new Date().toISOString(), correlationId, causationId: null,
    data: { pipeline, params, tenant: 'default', priority: 'normal', video: { bucket: `${namespace}_videos`, contentType: 'video/mp4', ...video } },
  };
  const ack = await js.publish(`${namespace}.job.${jobId}.submitted.normal`, JSON.stringify(event), {
    msgID: event.eventId,
    expect: { lastSubjectSequence: 0, lastSubjectSequenceSubject: `${namespace}.job.${jobId}.>` },
  });
  const submittedAt = (await jsm.direct.getMessage(stream, { seq: ack.seq })).time.getTime();
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const last = await jsm.direct.getMessage(stream, { last_by_subj: `${namespace}.job.${jobId}.lifecycle` }).catch(() => null);
    const type = last ? JSON.parse(new TextDecoder().decode(last.data)).type : null;
    if (type === 'JobFailed') throw new Error(`the ${pipeline} job failed: ${new TextDecoder().decode(last.data)}`);
    if (type === 'JobCompleted') return { ms: last.time.getTime() - submittedAt, completed: JSON.parse(new TextDecoder().decode(last.data)) };
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
  throw new Error(`the ${pipeline} job did not complete within ${timeoutMs / 1000} s`);
}

export async function runThumbnailsBench(ctx) {
  const { thumbnailsCommand, thumbnailsParams } = await import(join(ctx.repoRoot, 'dist/apps/worker/libs/tools/src/index.js'));
  const { ensureEventStream } = await import(join(ctx.repoRoot, 'dist/apps/worker/libs/event-store/src/index.js'));
  const { jobSubjects } = await import(join(ctx.repoRoot, 'dist/apps/worker/libs/contracts/src/index.js'));
  const spec = ctx.quick ? { seconds: 4, size: '320x240' } : { seconds: 30, size: '1280x720' };
  const fps = 30;
  const rounds = ctx.quick ? 2 : 5;
  const video = join(ctx.workDir, 'p6.mp4');
  ctx.log(`p6: making a ${spec.seconds} s ${spec.size} ${fps} fps H.264 video`);
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${spec.size}:rate=${fps}`, '-t', String(spec.seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', video]);
  const frameCount = spec.seconds * fps;
  // The tool's defaults (every 30th frame, up to 100): the whole video is decoded.
  const params = thumbnailsParams.parse({});

  const namespace = `b6${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const nc = await connect({ servers: ctx.natsUrl });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  // The jobs service creates the streams in a running system; workers only wait for them.
  await ensureEventStream(nc, jobSubjects(namespace));
  const worker = startWorker(ctx.repoRoot, { NATS_URL: ctx.natsUrl, FRAMEWIRE_NAMESPACE: namespace, WORKER_ID: 'bench-p6', WORKER_CONCURRENCY: '1', WORK_DIR: ctx.workDir });
  const raw = [];
  const pipeline = [];
  const breakdown = [];
  try {
    await worker.ready;
    const objects = await new Objm(nc).create(`${namespace}_videos`);
    const bytes = await readFile(video);
    const h = headers();
    h.set('Content-Type', 'video/mp4');
    const stored = await objects.putBlob({ name: 'uploads/bench/p6.mp4', headers: h }, bytes);
    const sha256 = Buffer.from(stored.digest.replace(/^SHA-256=/, ''), 'base64url').toString('hex');
    const stream = `${namespace.toUpperCase()}_EVENTS`;

    for (let round = 0; round < rounds; round++) {
      // Raw: the tool's very command, on the same file, into an empty folder.
      const dir = join(ctx.workDir, `raw-${round}`);
      await mkdir(dir, { recursive: true });
      raw.push(await rawFfmpeg(thumbnailsCommand(video, dir, params, frameCount).args));
      await rm(dir, { recursive: true, force: true });

      // Pipeline: VideoSubmitted appended, JobCompleted stored; both times from the stream.
      const { ms, completed: done } = await timeStreamJob({
        js, jsm, stream, namespace, pipeline: 'thumbnails', params, correlationId: `bench-p6-${round}`, timeoutMs: 120_000,
        video: { objectName: 'uploads/bench/p6.mp4', filename: 'p6.mp4', size: bytes.length, sha256 },
      });
      pipeline.push(ms);
      const tool = done.data.result?.tools?.thumbnails?.duration_ms ?? null;
      breakdown.push({ attempt_ms: done.data.durationMs, tool_ms: tool });
      ctx.log(`p6 round ${round + 1}/${rounds}: raw ffmpeg ${raw.at(-1).toFixed(0)} ms, pipeline ${pipeline.at(-1)} ms (attempt ${done.data.durationMs} ms, of which the tool ${tool} ms)`);
    }
  } finally {
    for (const line of worker.output().split('\n').filter((l) => l.includes('attempt timed'))) {
      // The worker's own debug line for each attempt (LOG_LEVEL=debug): where its time went.
      const timed = JSON.parse(line);
      const round = Number(/^bench-p6-(\d+)$/.exec(timed.correlationId)?.[1]);
      if (breakdown[round]) Object.assign(breakdown[round], { download_ms: timed.downloadMs, probe_ms: timed.probeMs, ffmpeg_ms: timed.ffmpegMs, tools_ms: timed.toolsMs, uploads: timed.uploads, upload_span_ms: timed.uploadSpanMs });
    }
    worker.child.kill('SIGTERM');
    await new Promise((resolve) => worker.child.once('exit', resolve));
    for (const name of [`${namespace.toUpperCase()}_EVENTS`, `${namespace.toUpperCase()}_ADVISORIES`, `OBJ_${namespace}_videos`, `KV_${namespace}_workers`]) await jsm.streams.delete(name).catch(() => undefined);
    await nc.close();
  }
  const rawMs = median(raw);
  const pipelineMs = median(pipeline);
  const ratio = pipelineMs / rawMs;
  const phases = breakdown.flatMap((b, i) => b.ffmpeg_ms === undefined ? [] : [{
    // From the start of the attempt to the probe's answer (the download runs beside it, from the same moment).
    'download': b.download_ms,
    'download and probe': b.probe_ms,
    'ffmpeg': b.ffmpeg_ms,
    'the tool after ffmpeg (last uploads, storyboard)': b.tools_ms - b.ffmpeg_ms,
    'rest of the attempt': b.attempt_ms - b.probe_ms - b.tools_ms,
    'events (pickup and claim, JobCompleted stored)': pipeline[i] - b.attempt_ms,
  }]);
  const medians = phases.length > 0 ? Object.keys(phases[0]).map((name) => `${name} ${Math.round(median(phases.map((p) => p[name])))} ms`).join(', ') : 'no worker timings (LOG_LEVEL is not debug)';
  return {
    id: 'p6',
    title: 'P6: thumbnails pipeline against the same raw ffmpeg command',
    measurements: [
      { name: 'thumbnails job (submitted → completed) median', unit: 'ms', value: Math.round(pipelineMs), baseline: { name: 'raw ffmpeg, same command, median', value: Math.round(rawMs) } },
      { name: 'pipeline / raw ffmpeg', unit: '×', value: Math.round(ratio * 1000) / 1000, goal: '≤ 1.05× raw ffmpeg', met: ratio <= 1.05, extra: { raw_ms: raw, pipeline_ms: pipeline, breakdown } },
    ],
    samples: { 'raw ffmpeg': raw, 'thumbnails pipeline': pipeline },
    notes: [
      `${spec.seconds} s ${spec.size} ${fps} fps H.264 (testsrc2), frame_stride ${params.frame_stride}, max_frames ${params.max_frames}, thumbnail_width ${params.thumbnail_width}: ${Math.min(params.max_frames, Math.ceil(frameCount / params.frame_stride))} JPEGs and a sprite sheet.`,
      'The pipeline time runs from the VideoSubmitted append to the stored JobCompleted (stream timestamps): queue pickup, download from the Object Store, ffprobe, the same ffmpeg command, artifact uploads and the lifecycle events.',
      `${rounds} alternating rounds; medians.`,
      `Where the pipeline's time went (medians of the worker's own timings): ${medians}.`,
    ],
  };
}
