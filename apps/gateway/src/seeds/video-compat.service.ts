import { Inject, Injectable } from '@nestjs/common';
import { z } from 'zod';
import { ErrorCode, type JobView } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { ToolCatalog, type PipelineResult } from '@app/tools';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { ApiError } from '../http/api-error.js';
import { parseQuery } from '../http/query.js';
import { JobFilesService } from '../files/job-files.service.js';
import { JobQueriesClient } from '../jobs/job-queries.client.js';
import { SubmitJobService, validateParams, type SubmissionSource } from '../jobs/submit-job.service.js';
import { JobUpdatesService } from '../live/job-updates.service.js';
import { WorkersService } from '../workers/workers.service.js';
import { seedsStatus } from './seeds-status.js';

/** The pipeline a seeds client gets when it names none: every tool on every sampled frame. */
export const SEEDS_DEFAULT_PIPELINE = 'analyze';

const int = z.coerce.number().int();

/** The seeds' query: `pipeline_id`, `frame_stride`, `max_frames`; anything else is ignored, as FastAPI does. */
export const submitQuerySchema = z.object({
  pipeline_id: z.string().trim().min(1).max(64).optional(),
  frame_stride: int.optional(),
  max_frames: int.optional(),
});

export type SeedsQuery = Record<string, unknown>;

/** A file is MP4/MOV when its first box is `ftyp`: bytes 4 to 8 of the file. */
export function isIsoBmff(head: Buffer): boolean {
  return head.length >= 8 && head.subarray(4, 8).toString('latin1') === 'ftyp';
}

/**
 * The seeds' video API on top of Framewire's own: the same queue, the same events. Jobs submitted
 * here are ordinary jobs (they show up in /v1/jobs too).
 */
@Injectable()
export class VideoCompatService {
  constructor(
    private readonly submitJob: SubmitJobService,
    private readonly queries: JobQueriesClient,
    private readonly files: JobFilesService,
    private readonly updates: JobUpdatesService,
    private readonly workers: WorkersService,
    private readonly catalog: ToolCatalog,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async submit(source: SubmissionSource, query: SeedsQuery, correlationId: string): Promise<{ job_id: string }> {
    const { pipeline_id, frame_stride, max_frames } = parseQuery(submitQuerySchema, query);
    const pipeline = pipeline_id ?? SEEDS_DEFAULT_PIPELINE;
    const entry = this.catalog.pipeline(pipeline);
    if (!entry) throw new ApiError(ErrorCode.UnknownPipeline, `unknown pipeline_id "${pipeline}"; known: ${this.catalog.pipelineNames().join(', ')}`);
    // Sampling applies to pipelines whose tools sample frames; the others ignore it, as the seeds did.
    const raw: Record<string, unknown> = {};
    if (frame_stride !== undefined && 'frame_stride' in entry.params.shape) raw['frame_stride'] = frame_stride;
    if (max_frames !== undefined && 'max_frames' in entry.params.shape) raw['max_frames'] = max_frames;
    const params = validateParams(this.catalog, pipeline, raw);
    const submitted = await this.submitJob.submit({
      source,
      fields: { pipeline, params, priority: 'normal' },
      checkHead: (head) => {
        if (!isIsoBmff(head)) throw new ApiError(ErrorCode.InvalidMp4, 'Invalid MP4 file');
      },
      tenant: 'default',
      idempotencyKey: null,
      correlationId,
    });
    return { job_id: submitted.job_id };
  }

  async status(jobId: string) {
    const job = await this.job(jobId);
    return { job_id: job.job_id, status: seedsStatus(job.status), progress: job.progress, created_at: job.created_at, updated_at: job.updated_at };
  }

  /** The results of a completed job; 404 until then, as the seeds answered. */
  async results(jobId: string) {
    const job = await this.job(jobId);
    if (job.status !== 'completed') throw new ApiError(ErrorCode.JobNotFound, `no results for job ${jobId}: it is ${seedsStatus(job.status)}`);
    const result = await this.readResult(jobId);
    return { job_id: job.job_id, ...seedsResults(result), created_at: job.created_at, updated_at: job.updated_at };
  }

  /** Submits, then waits for the job to end (through the same queue), up to PROCESS_WAIT_MS. */
  async process(source: SubmissionSource, query: SeedsQuery, correlationId: string) {
    const { job_id } = await this.submit(source, query, correlationId);
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), this.config.PROCESS_WAIT_MS);
    try {
      const snapshot = await this.updates.snapshot(job_id);
      for await (const update of this.updates.follow(snapshot, abort.signal)) {
        if (update.kind === 'completed') return { job_id, ...seedsResults(await this.readResult(job_id)) };
        if (update.kind === 'failed') {
          throw new ApiError(ErrorCode.JobFailed, `job ${job_id} failed: ${update.data.error?.code ?? 'ERROR'}: ${update.data.error?.message ?? ''}`);
        }
      }
    } finally {
      clearTimeout(timer);
    }
    throw new ApiError(ErrorCode.GatewayTimeout, `job ${job_id} did not finish within ${this.config.PROCESS_WAIT_MS} ms; it goes on: GET /v1/video/status/${job_id}`);
  }

  workerHealth() {
    return this.workers.health().then(({ alive, last_heartbeat }) => ({ alive, last_heartbeat }));
  }

  private async job(jobId: string): Promise<JobView> {
    const job = await this.queries.get(jobId);
    if (!job) throw new ApiError(ErrorCode.JobNotFound, `no job ${jobId}`);
    return job;
  }

  private async readResult(jobId: string): Promise<PipelineResult> {
    const result = await this.files.result(jobId);
    if ('inline' in result) return result.inline as unknown as PipelineResult;
    const chunks: Buffer[] = [];
    for await (const chunk of result.stream) chunks.push(chunk as Buffer);
    return JSON.parse(Buffer.concat(chunks).toString('utf8')) as PipelineResult;
  }
}

/** The seeds' `results: [{frame_index, result}]`, plus the summary and frame count. */
export function seedsResults(result: PipelineResult) {
  return {
    results: (result.frames ?? []).map(({ frame_index, ...rest }) => ({ frame_index, result: rest })),
    total_frames: result.total_frames ?? null,
    summary: result.summary ?? { frame_count: 0 },
  };
}
