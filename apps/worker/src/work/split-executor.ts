import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ErrorCode, type ArtifactRef, type SplitPartRef, type VideoRef } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { BlobStore } from '@app/blob-store';
import { abortLink } from '@app/runtime';
import {
  assembleResult,
  checkMediaLimits,
  describeViolations,
  effectiveLimits,
  findCutPoints,
  mediaFigures,
  toMediaInfo,
  ToolCatalog,
  ToolError,
  type FfprobeOutput,
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
import { fetchAndProbe, placeResult, type PipelineOutcome } from './pipeline-executor.service.js';

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
export class SplitExecutor {
  private readonly logger = new Logger(SplitExecutor.name);
  private readonly limits: MediaLimits;

  constructor(
    private readonly blobs: BlobStore,
    private readonly ffprobe: FfprobeRunner,
    private readonly ffmpeg: FfmpegRunner,
    private readonly catalog: ToolCatalog,
    @Inject(WORKER_CONFIG) private readonly config: WorkerConfig,
  ) {
    this.limits = {
      maxDurationSec: config.MEDIA_MAX_DURATION_SEC,
      maxPixels: config.MEDIA_MAX_PIXELS,
      maxFps: config.MEDIA_MAX_FPS,
      maxFrames: config.MEDIA_MAX_FRAMES,
      maxStreams: config.MEDIA_MAX_STREAMS,
    };
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
      return {
        ...placed,
        artifacts: writer.artifacts(),
        discard: async () => {
          await writer.discard();
          if (placed.resultRef) await this.blobs.delete(placed.resultRef.objectName).catch(() => undefined);
        },
      };
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
    const workDir = await mkdtemp(join(this.config.WORK_DIR ?? tmpdir(), `framewire-${jobId.slice(0, 8)}-`));
    try {
      const limits = effectiveLimits(this.limits, plan.pipeline.mediaLimits);
      const input: MediaInput = { path: join(workDir, 'input'), demuxer, maxDurationSec: limits.limits.maxDurationSec };
      const check = (output: FfprobeOutput) => {
        const figures = mediaFigures(output);
        const over = checkMediaLimits(figures, limits.limits);
        if (over.length > 0) throw new JobFailure(ErrorCode.InputTooLarge, describeViolations(over, figures, limits, plan.pipeline.name), true);
      };
      // Probed while it downloads, as a whole run does.
      const fetched = await fetchAndProbe(this.blobs, this.ffprobe, video.objectName, input, check, signal);
      const media = toMediaInfo(fetched.probed);
      this.logger.debug({ jobId, step, downloadMs: Math.round(fetched.downloadMs), probeMs: Math.round(fetched.probeMs), bytes: video.size }, 'input downloaded and probed');
      const toolDir = join(workDir, 'tool');
      await mkdir(toolDir);
      return await work({ input, media, workDir: toolDir });
    } finally {
      await rm(workDir, { recursive: true, force: true }).catch((e: unknown) => this.logger.warn(`could not remove ${workDir}: ${String(e)}`));
    }
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
