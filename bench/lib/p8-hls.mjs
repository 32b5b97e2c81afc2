// P8: the `hls` pipeline against the same raw ffmpeg command, measured in one run, as P6 does for
// thumbnails (and with P6's worker, raw ffmpeg and median helpers). Plain JavaScript on purpose: it
// runs from the built apps (dist/). bench/p8-hls.bench.ts wraps it for the harness.
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { connect, headers } from '@nats-io/transport-node';
import { median, rawFfmpeg, startWorker, timeStreamJob } from './p6-thumbnails.mjs';

const run = promisify(execFile);

/**
 * @param {{ natsUrl: string; workDir: string; repoRoot: string; quick: boolean; log(message: string): void; signal?: AbortSignal }} ctx
 */
export async function runHlsBench(ctx) {
  const { hlsCommand, hlsParams } = await import(join(ctx.repoRoot, 'dist/apps/worker/libs/tools/src/index.js'));
  const { ensureEventStream } = await import(join(ctx.repoRoot, 'dist/apps/worker/libs/event-store/src/index.js'));
  const { jobSubjects } = await import(join(ctx.repoRoot, 'dist/apps/worker/libs/contracts/src/index.js'));
  const spec = ctx.quick ? { seconds: 4, width: 320, height: 240 } : { seconds: 30, width: 1280, height: 720 };
  const fps = 30;
  const rounds = ctx.quick ? 1 : 3;
  const video = join(ctx.workDir, 'p8.mp4');
  ctx.log(`p8: making a ${spec.seconds} s ${spec.width}x${spec.height} ${fps} fps H.264 video with AAC audio`);
  await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc2=size=${spec.width}x${spec.height}:rate=${fps}`, '-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=48000',
    '-t', String(spec.seconds), '-c:v', 'libx264', '-preset', 'veryfast', '-pix_fmt', 'yuv420p', '-c:a', 'aac', '-shortest', video]);
  // The tool's defaults: 240p to 1080p, of which those up to the source's height are made.
  const params = hlsParams.parse({});
  const source = { displayHeight: spec.height, fps, hasAudio: true };

  const namespace = `b8${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  const nc = await connect({ servers: ctx.natsUrl });
  const js = jetstream(nc);
  const jsm = await jetstreamManager(nc);
  await ensureEventStream(nc, jobSubjects(namespace));
  const worker = startWorker(ctx.repoRoot, { NATS_URL: ctx.natsUrl, FRAMEWIRE_NAMESPACE: namespace, WORKER_ID: 'bench-p8', WORKER_CONCURRENCY: '1', WORK_DIR: ctx.workDir });
  const raw = [];
  const pipeline = [];
  const breakdown = [];
  let renditions = [];
  try {
    await worker.ready;
    const objects = await new Objm(nc).create(`${namespace}_videos`);
    const bytes = await readFile(video);
    const h = headers();
    h.set('Content-Type', 'video/mp4');
    const stored = await objects.putBlob({ name: 'uploads/bench/p8.mp4', headers: h }, bytes);
    const sha256 = Buffer.from(stored.digest.replace(/^SHA-256=/, ''), 'base64url').toString('hex');
    const stream = `${namespace.toUpperCase()}_EVENTS`;

    for (let round = 0; round < rounds && !ctx.signal?.aborted; round++) {
      // Raw: the tool's very command, on the same file, into an empty folder.
      const dir = join(ctx.workDir, `raw-${round}`);
      await mkdir(dir, { recursive: true });
      const command = hlsCommand(video, dir, params, source);
      renditions = command.renditions.map((r) => r.height);
      raw.push(await rawFfmpeg(command.args));
      await rm(dir, { recursive: true, force: true });

      // Pipeline: VideoSubmitted appended, JobCompleted stored; both times from the stream.
      const { ms, completed: done } = await timeStreamJob({
        js, jsm, stream, namespace, pipeline: 'hls', params, correlationId: `bench-p8-${round}`, timeoutMs: 300_000,
        video: { objectName: 'uploads/bench/p8.mp4', filename: 'p8.mp4', size: bytes.length, sha256 },
      });
      pipeline.push(ms);
      const tool = done.data.result?.tools?.hls?.duration_ms ?? null;
      const artifactBytes = done.data.artifacts.reduce((sum, a) => sum + a.size, 0);
      breakdown.push({ attempt_ms: done.data.durationMs, tool_ms: tool, artifacts: done.data.artifacts.length, artifact_bytes: artifactBytes });
      ctx.log(`p8 round ${round + 1}/${rounds}: raw ffmpeg ${raw.at(-1).toFixed(0)} ms, pipeline ${pipeline.at(-1)} ms (attempt ${done.data.durationMs} ms, of which the tool ${tool} ms; ${done.data.artifacts.length} artifacts, ${(artifactBytes / 1e6).toFixed(1)} MB)`);
    }
  } finally {
    worker.child.kill('SIGTERM');
    await new Promise((resolve) => worker.child.once('exit', resolve));
    for (const name of [`${namespace.toUpperCase()}_EVENTS`, `${namespace.toUpperCase()}_ADVISORIES`, `OBJ_${namespace}_videos`, `KV_${namespace}_workers`]) await jsm.streams.delete(name).catch(() => undefined);
    await nc.close();
  }
  if (pipeline.length === 0) throw new Error('p8: no round finished');
  const rawMs = median(raw);
  const pipelineMs = median(pipeline);
  const ratio = pipelineMs / rawMs;
  return {
    id: 'p8',
    title: 'P8: hls pipeline against the same raw ffmpeg command',
    measurements: [
      { name: 'hls job (submitted → completed) median', unit: 'ms', value: Math.round(pipelineMs), baseline: { name: 'raw ffmpeg, same command, median', value: Math.round(rawMs) } },
      { name: 'pipeline / raw ffmpeg', unit: '×', value: Math.round(ratio * 1000) / 1000, goal: '≤ 1.1× raw ffmpeg', met: ratio <= 1.1, extra: { raw_ms: raw, pipeline_ms: pipeline, breakdown } },
    ],
    samples: { 'raw ffmpeg': raw, 'hls pipeline': pipeline },
    notes: [
      `${spec.seconds} s ${spec.width}x${spec.height} ${fps} fps H.264 (testsrc2) with AAC audio; the hls defaults: renditions ${renditions.map((h) => `${h}p`).join(', ')} (x264 ${params.preset}, crf ${params.crf}) and the audio, ${params.segment_seconds} s segments, in one ffmpeg pass.`,
      'The pipeline time runs from the VideoSubmitted append to the stored JobCompleted (stream timestamps): queue pickup, download from the Object Store, ffprobe, the same ffmpeg command, the master playlist, artifact uploads and the lifecycle events.',
      `${rounds} alternating rounds; medians.`,
    ],
  };
}
