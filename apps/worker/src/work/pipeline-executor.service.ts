import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { cleanJson, ErrorCode, mayHoldUncleanText, type ArtifactRef, type JobCompleted, type ObjectRef, type WorkRequest } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { inSpan, SpanKind, TraceAttr, tracingActive, type Attributes } from '@app/observability';
import { abortLink } from '@app/runtime';
import { BlobNotFoundError, BlobStore } from '@app/blob-store';
import {
  assembleResult,
  checkMediaLimits,
  describeViolations,
  effectiveLimits,
  mediaFigures,
  toMediaInfo,
  ToolCatalog,
  ToolError,
  type FfprobeOutput,
  type MediaInfo,
  type MediaLimits,
  type ToolContext,
  type ToolOutput,
  type ToolRun,
} from '@app/tools';
import { FfmpegRunner } from '../media/ffmpeg.runner.js';
import { FfprobeRunner } from '../media/ffprobe.runner.js';
import { GrowingFile } from '../media/growing-file.js';
import { serveGrowingFile, type ServedFile } from '../media/growing-file.server.js';
import { demuxerFor, type MediaInput } from '../media/media-input.js';
import { WORKER_CONFIG } from '../worker.config.js';
import { artifactPrefix, ObjectStoreArtifactWriter } from './artifact-writer.js';
import type { AttemptLog } from './attempt-log.js';
import { JobFailure } from './job-failure.js';
import { PipelineProbe } from './pipeline-probe.js';
import { ProgressTracker } from './progress-tracker.js';

export interface PipelineOutcome {
  result: JobCompleted['data']['result'];
  resultRef: ObjectRef | null;
  artifacts: ArtifactRef[];
  /** Deletes what the attempt stored, for when its terminal event is refused. */
  discard(): Promise<void>;
}

/**
 * Runs a pipeline's tools for one attempt: downloads the upload (only when a tool reads it), probes
 * it as the container it was accepted as, checks it against the media limits (INPUT_TOO_LARGE, before
 * any tool runs), runs each tool in order with its context (params, progress, signal with the tool's timeout,
 * artifact writer, earlier results), and assembles the result. A result larger than
 * RESULT_INLINE_MAX_BYTES goes to the Object Store and the event carries a reference to it.
 * On failure the attempt's artifacts are deleted.
 */
@Injectable()
export class PipelineExecutor {
  private readonly logger = new Logger(PipelineExecutor.name);
  /** The installation's media limits (MEDIA_MAX_*); a pipeline may tighten them. */
  private readonly limits: MediaLimits;

  constructor(
    private readonly blobs: BlobStore,
    private readonly ffprobe: FfprobeRunner,
    private readonly ffmpeg: FfmpegRunner,
    private readonly catalog: ToolCatalog,
    private readonly probe: PipelineProbe,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {
    this.limits = workerMediaLimits(config);
  }

  async run(request: WorkRequest, attempt: number, log: AttemptLog, signal: AbortSignal): Promise<PipelineOutcome> {
    const pipeline = this.catalog.pipeline(request.data.pipeline);
    if (!pipeline) {
      // Transient: in a fleet being redeployed, another worker may have the plugin this one lacks.
      throw new JobFailure(ErrorCode.UnknownPipeline, `this worker has no pipeline "${request.data.pipeline}"`, false);
    }
    const parsed = pipeline.params.safeParse(request.data.params);
    if (!parsed.success) throw new JobFailure(ErrorCode.InvalidParams, `params do not fit pipeline "${pipeline.name}" here: ${parsed.error.issues[0]?.message}`, true);
    const params = parsed.data as Record<string, unknown>;
    // Set exactly when the pipeline reads the upload; one stored as no container the workers read is refused before any I/O.
    const demuxer = pipeline.readsInput ? demuxerFor(request.data.video.contentType) : null;
    if (pipeline.readsInput && !demuxer) {
      throw new JobFailure(ErrorCode.UnsupportedMedia, `the upload is stored as "${request.data.video.contentType}", which is no container the workers read`, true);
    }
    const writer = new ObjectStoreArtifactWriter(this.blobs, artifactPrefix(request.jobId, attempt));
    // The attempt's scratch directory, only when the input or a tool needs one (not for noop).
    const needsDir = pipeline.readsInput || pipeline.tools.some((tool) => tool.usesWorkDir !== false);
    const workDir = needsDir ? await mkdtemp(join(this.config.WORK_DIR ?? tmpdir(), `framewire-${request.jobId.slice(0, 8)}-`)) : null;
    // Made right before the try whose finally disposes it, so no path leaves it attached to its parents.
    const attemptLink = abortLink([signal, log.stopSignal]);
    const attemptSignal = attemptLink.signal;
    try {
      const inputPath = workDir ? join(workDir, 'input') : '';
      let input: MediaInput | null = null;
      let media: MediaInfo | null = null;
      const timings = { downloadMs: 0, probeMs: 0, ffmpegMs: 0, toolsMs: 0 };
      if (demuxer) {
        const limits = effectiveLimits(this.limits, pipeline.mediaLimits);
        const source: MediaInput = { path: inputPath, demuxer, maxDurationSec: limits.limits.maxDurationSec };
        input = source;
        const check = limitsCheck(limits, pipeline.name);
        const fetched = await traced('fetch input', { [TraceAttr.jobId]: request.jobId, 'framewire.input.bytes': request.data.video.size }, () =>
          fetchAndProbe(this.blobs, this.ffprobe, request.data.video.objectName, source, check, attemptSignal),
        );
        media = toMediaInfo(fetched.probed);
        timings.downloadMs = fetched.downloadMs;
        timings.probeMs = fetched.probeMs;
        this.logger.debug({ jobId: request.jobId, downloadMs: Math.round(fetched.downloadMs), probeMs: Math.round(fetched.probeMs), bytes: request.data.video.size }, 'input downloaded and probed');
      }
      this.probe.pipelineBegins(request.jobId, attempt);
      const tracker = new ProgressTracker(pipeline.tools.length, media?.frameCount ?? null);
      const runs: ToolRun[] = [];
      const results: Record<string, ToolOutput> = {};
      for (const [index, tool] of pipeline.tools.entries()) {
        if (index > 0) {
          // A boundary between two tools: the one before is done, the next begins.
          tracker.finishTool(index - 1);
          tracker.startTool(index, tool.name);
          log.boundary(tracker.snapshot());
        } else {
          tracker.startTool(index, tool.name);
        }
        const toolDir = workDir && tool.usesWorkDir !== false ? join(workDir, `${index}-${tool.name}`) : '';
        if (toolDir) await mkdir(toolDir);
        const toolLink = abortLink([attemptSignal], tool.timeoutMs ?? this.config.TOOL_TIMEOUT_MS);
        const toolSignal = toolLink.signal;
        const ctx: ToolContext = {
          jobId: request.jobId,
          attempt,
          inputPath,
          workDir: toolDir,
          params,
          media,
          signal: toolSignal,
          artifacts: writer,
          results,
          progress: {
            frames: (current, total, done) => {
              tracker.report(done ?? (total ? current / total : 0), current, total);
              log.progress(tracker.snapshot());
            },
            fraction: (done) => {
              tracker.report(done);
              log.progress(tracker.snapshot());
            },
          },
          tools: {
            ffmpeg: async (args, options) => {
              const began = performance.now();
              try {
                return await this.ffmpeg.run(args, toolSignal, options?.onProgress, input);
              } finally {
                timings.ffmpegMs += performance.now() - began;
              }
            },
          },
        };
        const startedAt = performance.now();
        let output: ToolOutput;
        try {
          output = await traced(`tool ${tool.name}`, { [TraceAttr.tool]: tool.name, [TraceAttr.jobId]: request.jobId, [TraceAttr.attempt]: attempt }, () => tool.run(ctx));
        } catch (error) {
          if (toolLink.timedOut && !attemptSignal.aborted) {
            throw new JobFailure(ErrorCode.ToolTimeout, `tool "${tool.name}" ran longer than ${tool.timeoutMs ?? this.config.TOOL_TIMEOUT_MS} ms`, false, { cause: error });
          }
          throw error;
        } finally {
          toolLink.dispose();
        }
        if (attemptSignal.aborted) throw attemptSignal.reason;
        results[tool.name] = output;
        runs.push({ tool, output, durationMs: performance.now() - startedAt });
        timings.toolsMs += performance.now() - startedAt;
      }
      log.close();
      const result = assembleResult(media, runs);
      const placed = await this.place(request.jobId, attempt, result);
      this.logger.debug({ jobId: request.jobId, ...rounded(timings), ...writer.timings() }, 'attempt timed');
      return attemptOutcome(this.blobs, writer, placed);
    } catch (error) {
      await writer.discard();
      throw error instanceof ToolError ? JobFailure.from(error) : error;
    } finally {
      attemptLink.dispose();
      if (workDir) await rm(workDir, { recursive: true, force: true }).catch((e: unknown) => this.logger.warn(`could not remove ${workDir}: ${String(e)}`));
    }
  }

  private place(jobId: string, attempt: number, raw: object): Promise<Pick<PipelineOutcome, 'result' | 'resultRef'>> {
    return placeResult(this.blobs, this.config.RESULT_INLINE_MAX_BYTES, jobId, attempt, raw);
  }
}

/** What an attempt stored, and the way to delete it all (its artifacts and its result) when its terminal event is refused. */
export function attemptOutcome(blobs: BlobStore, writer: ObjectStoreArtifactWriter, placed: Pick<PipelineOutcome, 'result' | 'resultRef'>): PipelineOutcome {
  return {
    ...placed,
    artifacts: writer.artifacts(),
    discard: async () => {
      await writer.discard();
      if (placed.resultRef) await blobs.delete(placed.resultRef.objectName).catch(() => undefined);
    },
  };
}

/** The installation's media limits (MEDIA_MAX_*), which a pipeline may only tighten. */
export function workerMediaLimits(config: WorkerConfig): MediaLimits {
  return {
    maxDurationSec: config.MEDIA_MAX_DURATION_SEC,
    maxPixels: config.MEDIA_MAX_PIXELS,
    maxFps: config.MEDIA_MAX_FPS,
    maxFrames: config.MEDIA_MAX_FRAMES,
    maxStreams: config.MEDIA_MAX_STREAMS,
  };
}

/** What ffprobe's answer is checked with before any tool runs: a video over a limit fails the attempt, for good, with INPUT_TOO_LARGE. */
export function limitsCheck(limits: ReturnType<typeof effectiveLimits>, pipelineName: string): (output: FfprobeOutput) => void {
  return (output) => {
    const figures = mediaFigures(output);
    const over = checkMediaLimits(figures, limits.limits);
    if (over.length > 0) throw new JobFailure(ErrorCode.InputTooLarge, describeViolations(over, figures, limits, pipelineName), true);
  };
}

/**
 * Small results travel in the event; large ones are stored and referenced. Either way the result is
 * clean text first (a tool or plugin may return lone surrogates or NUL, in values or keys): it is
 * walked and cleaned only when its JSON shows it may hold such text (mayHoldUncleanText).
 */
export async function placeResult(blobs: BlobStore, inlineMaxBytes: number, jobId: string, attempt: number, raw: object): Promise<Pick<PipelineOutcome, 'result' | 'resultRef'>> {
  let result = raw;
  let json = JSON.stringify(raw);
  if (mayHoldUncleanText(json)) {
    result = cleanJson(raw);
    json = JSON.stringify(result);
  }
  if (Buffer.byteLength(json) <= inlineMaxBytes) return { result: result as PipelineOutcome['result'], resultRef: null };
  const blob = await blobs.putBytes(`results/${jobId}/${attempt}.json`, new TextEncoder().encode(json), 'application/json');
  return { result: null, resultRef: { bucket: blob.bucket, objectName: blob.name, size: blob.size, contentType: 'application/json', sha256: blob.sha256 } };
}

/**
 * Downloads the upload into `input.path` and probes it at the same time: ffprobe reads it through
 * a loopback server that follows the download (serveGrowingFile), so its start-up, and all of its
 * reading of an upload whose index comes first, overlap the download instead of following it. The
 * tools run only once both are done, on the whole file, as before. Whichever fails first decides
 * the attempt's error: a download that fails cuts ffprobe off, and its own failure (not ffprobe's
 * INVALID_MEDIA) is the attempt's; a probe that fails (an unreadable file, a limit, a cancel) stops
 * the download. Times are from the start of both: `downloadMs` to the last byte, `probeMs` to the
 * probe's answer (which may come after the download, never before its last byte is needed).
 */
export async function fetchAndProbe(
  blobs: BlobStore,
  ffprobe: FfprobeRunner,
  objectName: string,
  input: MediaInput,
  check: (output: FfprobeOutput) => void,
  signal: AbortSignal,
): Promise<{ probed: FfprobeOutput; downloadMs: number; probeMs: number }> {
  const startedAt = performance.now();
  const opened = await blobs.open(objectName);
  if (!opened) throw new BlobNotFoundError(blobs.bucket, objectName);
  const download = await GrowingFile.download(opened.stream, input.path, opened.blob.size);
  let downloadMs = 0;
  const downloaded = download.finished.then(() => void (downloadMs = performance.now() - startedAt));
  downloaded.catch(() => undefined);
  let served: ServedFile | null = null;
  try {
    served = await serveGrowingFile(download);
    let probed: FfprobeOutput;
    try {
      probed = await ffprobe.probe({ ...input, following: { url: served.url, downloaded } }, signal, check);
    } catch (error) {
      // Cut off by a failed download: the download's failure is the attempt's.
      if (download.failure && !signal.aborted) throw download.failure;
      throw error;
    }
    const probeMs = performance.now() - startedAt;
    await downloaded;
    return { probed, downloadMs, probeMs };
  } finally {
    await served?.close();
    download.abort(new Error('the attempt stopped before the download ended'));
    await downloaded.catch(() => undefined);
  }
}

function rounded<T extends Record<string, number>>(figures: T): T {
  return Object.fromEntries(Object.entries(figures).map(([key, value]) => [key, Math.round(value)])) as T;
}

/** `fn` in an INTERNAL span of the attempt while tracing is on; just `fn` otherwise. */
function traced<T>(name: string, attributes: Attributes, fn: () => Promise<T>): Promise<T> {
  return tracingActive() ? inSpan(name, { kind: SpanKind.INTERNAL, attributes }, () => fn()) : fn();
}
