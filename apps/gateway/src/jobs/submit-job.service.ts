import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import { Injectable, Logger } from '@nestjs/common';
import {
  DEFAULT_PIPELINE,
  DEFAULT_PRIORITY,
  ErrorCode,
  JOB_PRIORITIES,
  jobPrioritySchema,
  type JobPriority,
  isPipelineName,
  pipelineCatalog,
  summarizeIssues,
  type VideoSubmitted,
} from '@app/contracts';
import { BlobStore, ConcurrencyError, EventStore, isNatsUnavailableError, type StoredBlob } from '@app/event-store';
import { Clock, IdGenerator, idempotentEventId, idempotentJobId } from '@app/runtime';
import { ApiError } from '../http/api-error.js';
import type { FilePart, MultipartResult } from '../uploads/multipart-reader.js';

/** Where the submission's parts come from; the HTTP layer reads multipart, tests may read anything. */
export type SubmissionSource = <T>(
  sink: (part: FilePart) => Promise<T>,
  discard: (stored: T) => Promise<void>,
) => Promise<MultipartResult<T>>;

export interface SubmitCommand {
  source: SubmissionSource;
  /** Who submits: the job belongs to this tenant, and its Idempotency-Key is scoped to it. */
  tenant: string;
  idempotencyKey: string | null;
  correlationId: string;
}

export interface SubmitResult {
  job_id: string;
  status: 'queued';
  pipeline: string;
  priority: JobPriority;
  submitted_at: string;
  /** True when this answers a repeated Idempotency-Key: nothing new was stored or published. */
  replayed: boolean;
}

export const SUBMIT_FIELDS = new Set(['pipeline', 'params', 'priority']);

/**
 * Submitting a job: store the upload, validate, publish `VideoSubmitted` as the job's first event
 * (expected last subject sequence 0). A rejected submission leaves no object and publishes nothing.
 * With an Idempotency-Key the job id is derived from the key, so the stream itself keeps a key from
 * ever making a second job; a repeat with the same content gets the first answer back.
 */
@Injectable()
export class SubmitJobService {
  private readonly logger = new Logger(SubmitJobService.name);

  constructor(
    private readonly store: EventStore,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
  ) {}

  async submit(command: SubmitCommand): Promise<SubmitResult> {
    const jobId = command.idempotencyKey ? idempotentJobId(command.tenant, command.idempotencyKey) : this.ids.next();
    if (command.idempotencyKey) {
      const prior = await this.priorSubmission(jobId);
      if (prior) return this.replay(prior, command.source);
    }

    const objectName = `uploads/${jobId}/${this.ids.next()}`;
    const received = await command.source(
      (part) => this.storeUpload(objectName, part),
      (stored) => this.blobs.delete(stored.blob.name),
    );
    const upload = received.file;
    let keepUpload = false;
    try {
      if (!upload) throw new ApiError(ErrorCode.FileRequired, 'the request has no "file" part');
      if (upload.blob.size === 0) throw new ApiError(ErrorCode.EmptyFile, 'the uploaded file is empty');
      const { pipeline, params, priority } = parseSubmissionFields(received.fields);
      const event: VideoSubmitted = {
        // With a key, the event id is derived from the job id: two racing requests with the same key
        // publish the same Nats-Msg-Id, so the stream stores one even if they chose different priorities.
        eventId: command.idempotencyKey ? idempotentEventId(jobId) : this.ids.next(),
        jobId,
        type: 'VideoSubmitted',
        version: 2,
        occurredAt: this.clock.now().toISOString(),
        correlationId: command.correlationId,
        causationId: null,
        data: {
          pipeline,
          params,
          tenant: command.tenant,
          priority,
          video: {
            bucket: upload.blob.bucket,
            objectName: upload.blob.name,
            filename: upload.filename,
            size: upload.blob.size,
            contentType: upload.contentType,
            sha256: upload.blob.sha256,
          },
        },
      };
      let appended;
      try {
        appended = await this.store.append(event, 0);
      } catch (error) {
        // NATS went away while the event was on its way: it may have been stored. Keep the upload, so
        // that a job that exists never points at a deleted video (a retry with the same
        // Idempotency-Key finds the job); at worst the object is an orphan.
        if (isNatsUnavailableError(error)) keepUpload = true;
        throw error;
      }
      if (appended.duplicate) throw new ConcurrencyError(this.store.subjectOf(event), 0);
      return { job_id: jobId, status: 'queued', pipeline, priority, submitted_at: event.occurredAt, replayed: false };
    } catch (error) {
      if (upload && !keepUpload) {
        await this.blobs.delete(upload.blob.name).catch((e: unknown) => this.logger.error(`could not delete ${upload.blob.name}: ${String(e)}`));
      }
      if (error instanceof ConcurrencyError && command.idempotencyKey) {
        // A concurrent request with the same key won the race; answer as it did.
        const prior = await this.priorSubmission(jobId);
        if (prior) return this.compare(prior, upload!.blob.sha256, received.fields);
      }
      throw error;
    }
  }

  private async storeUpload(objectName: string, part: FilePart) {
    let blob: StoredBlob;
    try {
      blob = await this.blobs.put(objectName, part.stream, part.contentType);
    } catch (error) {
      if (isNatsUnavailableError(error)) {
        throw new ApiError(ErrorCode.ServiceUnavailable, 'NATS became unreachable during the upload; try again shortly', { 'Retry-After': '1' });
      }
      throw error;
    }
    return { blob, filename: part.filename, contentType: part.contentType };
  }

  private async priorSubmission(jobId: string): Promise<VideoSubmitted | null> {
    const item = await this.store.firstSubmission(jobId);
    if (!item) return null;
    if (!item.ok || item.stored.event.type !== 'VideoSubmitted') {
      throw new ApiError(ErrorCode.Internal, 'the stored submission for this key is unreadable');
    }
    return item.stored.event;
  }

  /** A repeated key: read the body through a hash only (nothing is stored), then compare. */
  private async replay(prior: VideoSubmitted, source: SubmissionSource): Promise<SubmitResult> {
    const received = await source(
      async (part) => {
        const hash = createHash('sha256');
        await pipe(part.stream, new Writable({ write: (chunk: Buffer, _enc, done) => (hash.update(chunk), done()) }));
        return hash.digest('hex');
      },
      async () => undefined,
    );
    if (received.file === null) throw new ApiError(ErrorCode.FileRequired, 'the request has no "file" part');
    return this.compare(prior, received.file, received.fields);
  }

  private compare(prior: VideoSubmitted, sha256: string, fields: Map<string, string>): SubmitResult {
    const { pipeline, params, priority } = parseSubmissionFields(fields);
    const same =
      prior.data.video.sha256 === sha256 &&
      prior.data.pipeline === pipeline &&
      prior.data.priority === priority &&
      JSON.stringify(prior.data.params) === JSON.stringify(params);
    if (!same) {
      throw new ApiError(ErrorCode.IdempotencyKeyReused, 'this Idempotency-Key was already used for a different request');
    }
    return {
      job_id: prior.jobId,
      status: 'queued',
      pipeline: prior.data.pipeline,
      priority: prior.data.priority,
      submitted_at: prior.occurredAt,
      replayed: true,
    };
  }
}

export interface SubmissionFields {
  pipeline: string;
  params: Record<string, unknown>;
  priority: JobPriority;
}

/** `pipeline` (default probe), `params` (a JSON object valid for that pipeline) and `priority` (default normal). */
export function parseSubmissionFields(fields: Map<string, string>): SubmissionFields {
  const priorityText = fields.get('priority')?.trim() || DEFAULT_PRIORITY;
  const priority = jobPrioritySchema.safeParse(priorityText);
  if (!priority.success) {
    throw new ApiError(ErrorCode.ValidationFailed, `"priority" must be one of ${JOB_PRIORITIES.join(', ')}`);
  }
  const pipeline = fields.get('pipeline')?.trim() || DEFAULT_PIPELINE;
  if (!isPipelineName(pipeline)) {
    const known = Object.keys(pipelineCatalog).join(', ');
    throw new ApiError(ErrorCode.UnknownPipeline, `unknown pipeline "${pipeline.slice(0, 64)}"; known: ${known}`);
  }
  let raw: unknown = {};
  const text = fields.get('params');
  if (text !== undefined && text.trim() !== '') {
    try {
      raw = JSON.parse(text);
    } catch {
      throw new ApiError(ErrorCode.InvalidParams, '"params" is not valid JSON');
    }
  }
  const parsed = pipelineCatalog[pipeline].params.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError(ErrorCode.InvalidParams, `invalid params for ${pipeline}: ${summarizeIssues(parsed.error)}`);
  }
  return { pipeline, params: parsed.data as Record<string, unknown>, priority: priority.data };
}
