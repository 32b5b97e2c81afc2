import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Logger, type OnModuleDestroy } from '@nestjs/common';
import { ErrorCode, type ArtifactRef, type SplitPartRef, type VideoRef } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { BlobStore } from '@app/blob-store';
import { abortLink } from '@app/runtime';
import {
  assembleResult,
  effectiveLimits,
  findCutPoints,
  toMediaInfo,
  ToolCatalog,
  ToolError,
  type JoinPart,
  type MediaInfo,
  type MediaLimits,
  type PipelineEntry,
  type SplitSupport,
  type Tool,
  type ToolContext,
} from '@app/tools';
import { FfmpegRunner } from '../media/ffmpeg.runner.js';
import { FfprobeRunner } from '../media/ffprobe.runner.js';
import { demuxerFor, type MediaInput } from '../media/media-input.js';
import { WORKER_CONFIG } from '../worker.config.js';
import { artifactPrefix, ObjectStoreArtifactWriter } from './artifact-writer.js';
import { JobFailure } from './job-failure.js';
import { UploadCache } from './upload-cache.js';
import { attemptOutcome, fetchAndProbe, limitsCheck, placeResult, workerMediaLimits, type PipelineOutcome } from './pipeline-executor.service.js';

/** The most bytes of uploads a worker keeps between a split job's steps, when no step uses them. */
const UPLOAD_CACHE_MAX_BYTES = 2 * 1024 ** 3;
/** How long an upload no step uses stays: long enough for the next part of the same job to come. */
const UPLOAD_CACHE_IDLE_MS = 120_000;

type FetchedUpload = Awaited<ReturnType<typeof fetchAndProbe>>;

/** How a job of a split pipeline is split: its one tool, that tool's split support, its params and the split length. */
export interface SplitPlan {
  pipeline: PipelineEntry;
  tool: Tool;
  split: SplitSupport;
  params: Record<string, unknown>;
  splitSeconds: number;
}

/** A part's progress, as its log appends it. */
export interface PartProgressReport {
  percent: number;
  currentFrame: number;
  totalFrames: number | null;
}

/** The upload downloaded and probed, in a scratch directory of its own. */
interface PreparedInput {
  input: MediaInput;
  media: MediaInfo;
  workDir: string;
}

/**
 * The media side of split jobs (issue #19), for the three steps a split job's work goes through, each
 * on whichever worker gets it: cutting the upload at key frames (the attempt that claimed the job),
 * making one part (any worker, per PartRequested), and joining the parts (any worker, per
 * JoinRequested). Each step downloads and probes the upload under the same media limits as a whole
 * run, and runs the tool's SplitSupport with the same kind of context a whole run gets.
 */
@Injectable()
export class SplitExecutor implements OnModuleDestroy {
  private readonly logger = new Logger(SplitExecutor.name);
  private readonly limits: MediaLimits;
  /** Uploads kept between the steps of a split job that run on this worker (see UploadCache). */
  private readonly uploads: UploadCache<FetchedUpload>;
  private readonly shutdown = new AbortController();

  constructor(
    private readonly blobs: BlobStore,
    private readonly ffprobe: FfprobeRunner,
    private readonly ffmpeg: FfmpegRunner,
    private readonly catalog: ToolCatalog,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {
    this.limits = workerMediaLimits(config);
    this.uploads = new UploadCache(join(config.WORK_DIR ?? tmpdir(), `framewire-uploads-${process.pid}`), UPLOAD_CACHE_MAX_BYTES, UPLOAD_CACHE_IDLE_MS);
  }

  async onModuleDestroy(): Promise<void> {
    this.shutdown.abort(new Error('the worker is shutting down'));
    await this.uploads.close();
  }

  /**
   * How a job is split, or null when it runs whole: its pipeline is one tool that supports splitting,
   * and its params ask for a split length. Params this worker can't read leave the job whole (the
   * whole run then fails it with the reason).
   */
  plan(pipelineName: string, rawParams: Record<string, unknown>): SplitPlan | null {
    const pipeline = this.catalog.pipeline(pipelineName);
    const tool = pipeline?.tools.length === 1 ? pipeline.tools[0] : undefined;
    if (!pipeline || !tool?.split) return null;
    const parsed = pipeline.params.safeParse(rawParams);
    if (!parsed.success) return null;
    const params = parsed.data as Record<string, unknown>;
    const splitSeconds = tool.split.splitSeconds(params);
    return splitSeconds ? { pipeline, tool, split: tool.split as SplitSupport, params, splitSeconds } : null;
  }

  /** The parts of the upload: from each key frame nearest a multiple of the split length. One part means: run it whole. */
  async cut(plan: SplitPlan, video: VideoRef, jobId: string, signal: AbortSignal): Promise<SplitPartRef[]> {
    return this.withInput('cut', plan, video, jobId, signal, async ({ input, media }) => {
      const startedAt = performance.now();
      const keyframes = await this.ffprobe.keyframes(input, signal);
      const duration = media.durationSec ?? keyframes.at(-1) ?? 0;
      const parts = findCutPoints(keyframes, duration, plan.splitSeconds);
      this.logger.debug({ jobId, keyframes: keyframes.length, parts: parts.length, keyframesMs: Math.round(performance.now() - startedAt) }, 'key frames read');
      return parts;
    });
  }

  /**
   * Makes one part and stores its files under a prefix of its own (the job's attempt, the part and
   * the part's attempt), so that an attempt that lost the part never overwrites the winner's. On
   * failure what it stored is deleted.
   */
  async runPart(
    plan: SplitPlan,
    video: VideoRef,
    where: { jobId: string; attempt: number; partAttempt: number },
    part: SplitPartRef,
    onProgress: (report: PartProgressReport) => void,
    signal: AbortSignal,
  ): Promise<ArtifactRef[]> {
    const writer = new ObjectStoreArtifactWriter(this.blobs, `${artifactPrefix(where.jobId, where.attempt)}parts/${part.index}-${where.partAttempt}/`);
    try {
      await this.withInput('part', plan, video, where.jobId, signal, async (prepared) => {
        const startedAt = performance.now();
        await this.withContext(plan, prepared, where, writer, signal, (done, current, total) => {
          onProgress({ percent: Math.max(0, Math.min(100, done * 100)), currentFrame: current, totalFrames: total });
        }, (ctx) => plan.split.runPart(ctx, part));
        this.logger.debug({ jobId: where.jobId, part: part.index, toolMs: Math.round(performance.now() - startedAt) }, 'part made and stored');
      });
      return writer.artifacts();
    } catch (error) {
      await writer.discard();
      throw error instanceof ToolError ? JobFailure.from(error) : error;
    }
  }

  /**
   * Joins the parts' files (downloaded in index order) into the job's output and result, the same
   * shape as a whole run's. Its files go under a prefix of their own (`join`), so that a second join
   * of the same attempt, started by a redelivery, never overwrites the files of the one whose
   * JobCompleted is stored.
   */
  async join(plan: SplitPlan, video: VideoRef, where: { jobId: string; attempt: number; runId: string }, parts: ReadonlyArray<{ index: number; artifacts: ArtifactRef[] }>, signal: AbortSignal): Promise<PipelineOutcome> {
    const writer = new ObjectStoreArtifactWriter(this.blobs, `${artifactPrefix(where.jobId, where.attempt)}join-${where.runId}/`);
    try {
      const placed = await this.withInput('join', plan, video, where.jobId, signal, async (prepared) => {
        const downloadStartedAt = performance.now();
        const local: JoinPart[] = [];
        for (const part of [...parts].sort((a, b) => a.index - b.index)) {
          const dir = join(prepared.workDir, 'parts', String(part.index));
          await mkdir(dir, { recursive: true });
          const files = new Map<string, string>();
          for (const artifact of part.artifacts) {
            const path = join(dir, artifact.name);
            await this.blobs.downloadToFile(artifact.objectName, path);
            files.set(artifact.name, path);
          }
          local.push({ index: part.index, files });
        }
        const startedAt = performance.now();
        const output = await this.withContext(plan, prepared, where, writer, signal, () => undefined, (ctx) => plan.split.join(ctx, local));
        if (signal.aborted) throw signal.reason;
        const toolMs = Math.round(performance.now() - startedAt);
        this.logger.debug({ jobId: where.jobId, parts: local.length, partsDownloadMs: Math.round(startedAt - downloadStartedAt), toolMs }, 'parts joined and stored');
        const result = assembleResult(prepared.media, [{ tool: plan.tool, output, durationMs: performance.now() - startedAt }]);
        return placeResult(this.blobs, this.config.RESULT_INLINE_MAX_BYTES, where.jobId, where.attempt, result);
      });
      return attemptOutcome(this.blobs, writer, placed);
    } catch (error) {
      await writer.discard();
      throw error instanceof ToolError ? JobFailure.from(error) : error;
    }
  }

  /** Deletes the parts' files once the joined output is stored: best effort (a failure leaves them to the job's deletion). */
  async removeParts(artifacts: readonly ArtifactRef[]): Promise<void> {
    for (const artifact of artifacts) await this.blobs.delete(artifact.objectName).catch(() => undefined);
  }

  /**
   * Downloads and probes the upload into a scratch directory (removed afterwards), checked against the
   * pipeline's media limits. `step` only names the step in the debug line that times the two.
   */
  private async withInput<T>(step: 'cut' | 'part' | 'join', plan: SplitPlan, video: VideoRef, jobId: string, signal: AbortSignal, work: (prepared: PreparedInput) => Promise<T>): Promise<T> {
    const demuxer = demuxerFor(video.contentType);
    if (!demuxer) throw new JobFailure(ErrorCode.UnsupportedMedia, `the upload is stored as "${video.contentType}", which is no container the workers read`, true);
    const limits = effectiveLimits(this.limits, plan.pipeline.mediaLimits);
    const check = limitsCheck(limits, plan.pipeline.name);
    let fetchedHere = false;
    // Fetched once for all the steps of the job that run here, probed while it downloads, as a whole
    // run does. Not stopped by one step's signal: other steps may wait for it (a shutdown stops it).
    const fetch = (path: string) => {
      fetchedHere = true;
      return fetchAndProbe(this.blobs, this.ffprobe, video.objectName, { path, demuxer, maxDurationSec: limits.limits.maxDurationSec }, check, this.shutdown.signal);
    };
    // The folder is named after the job, like a whole run's scratch folder, for whoever looks at the disk or the processes.
    return this.uploads.use(video, fetch, async (upload) => {
      if (signal.aborted) throw signal.reason;
      const input: MediaInput = { path: upload.path, demuxer, maxDurationSec: limits.limits.maxDurationSec };
      const media = toMediaInfo(upload.fetched.probed);
      this.logger.debug({ jobId, step, cached: !fetchedHere, downloadMs: fetchedHere ? Math.round(upload.fetched.downloadMs) : 0, probeMs: fetchedHere ? Math.round(upload.fetched.probeMs) : 0, bytes: video.size }, 'input downloaded and probed');
      // The step's scratch folder is beside the upload: the worker's ffmpeg reads concat lists only there.
      const workDir = await mkdtemp(join(upload.dir, `${step}-`));
      try {
        return await work({ input, media, workDir });
      } finally {
        await rm(workDir, { recursive: true, force: true }).catch((e: unknown) => this.logger.warn(`could not remove ${workDir}: ${String(e)}`));
      }
    }, `framewire-${jobId.slice(0, 8)}-`);
  }

  /** Runs `work` with a tool context like a whole run's, under the tool's timeout (TOOL_TIMEOUT). */
  private async withContext<T>(
    plan: SplitPlan,
    prepared: PreparedInput,
    where: { jobId: string; attempt: number },
    writer: ObjectStoreArtifactWriter,
    signal: AbortSignal,
    progress: (done: number, current: number, total: number | null) => void,
    work: (ctx: ToolContext) => Promise<T>,
  ): Promise<T> {
    const timeoutMs = plan.tool.timeoutMs ?? this.config.TOOL_TIMEOUT_MS;
    const link = abortLink([signal], timeoutMs);
    const ctx: ToolContext = {
      jobId: where.jobId,
      attempt: where.attempt,
      inputPath: prepared.input.path,
      workDir: prepared.workDir,
      params: plan.params,
      media: prepared.media,
      signal: link.signal,
      artifacts: writer,
      results: {},
      progress: {
        frames: (current, total, done) => progress(done ?? (total ? current / total : 0), current, total),
        fraction: (done) => progress(done, 0, null),
      },
      tools: { ffmpeg: (args, options) => this.ffmpeg.run(args, link.signal, options?.onProgress, prepared.input) },
    };
    try {
      return await work(ctx);
    } catch (error) {
      if (link.timedOut && !signal.aborted) throw new JobFailure(ErrorCode.ToolTimeout, `tool "${plan.tool.name}" ran longer than ${timeoutMs} ms`, false, { cause: error });
      throw error;
    } finally {
      link.dispose();
    }
  }
}
