import { createHash } from 'node:crypto';
import { Writable } from 'node:stream';
import { pipeline as pipe } from 'node:stream/promises';
import { Injectable, Logger } from '@nestjs/common';
import {
  DEFAULT_PRIORITY,
  ErrorCode,
  findUncleanText,
  JOB_PRIORITIES,
  jobPrioritySchema,
  type JobPriority,
  type JobSubmitted,
  summarizeIssues,
  type VideoSubmitted,
} from '@app/contracts';
import { DEFAULT_PIPELINE, ToolCatalog } from '@app/tools';
import { EventStore } from '@app/event-store';
import { BlobStore, digestToHex, type StoredBlob } from '@app/blob-store';
import { isNatsUnavailableError, isStorageFullError, NatsAvailability, NatsConnectionLostError } from '@app/nats';
import { NO_JOB, runCommand } from '@app/job-commands';
import { inSpan, SpanKind, traceApi, TraceAttr, tracingActive } from '@app/observability';
import type { JobCommand, Stored } from '@app/job-state';
import { Clock, IdGenerator, idempotentEventId, idempotentJobId } from '@app/runtime';
import { ApiError, statusOf } from '../http/api-error.js';
import { GatewayMetrics } from '../ops/gateway.metrics.js';
import { guardUpload, type MediaCheck } from '../uploads/media-guard.js';
import type { FilePart, MultipartResult } from '../uploads/multipart-reader.js';

/**
 * Where the submission's parts come from: POST /v1/jobs reads multipart, a completed resumable upload
 * (resumable/resumable-uploads.service.ts) reads its committed chunks back with its metadata as the
 * fields, tests may read anything. Every route that makes a job from a file goes through `submit`.
 */
export type SubmissionSource = <T>(
  sink: (part: FilePart) => Promise<T>,
  discard: (stored: T) => Promise<void>,
) => Promise<MultipartResult<T>>;

export interface SubmitCommand {
  source: SubmissionSource;
  /**
   * Pipeline, params and priority decided by the caller (the seeds' routes take them from the query);
   * when absent they come from the multipart fields.
   */
  fields?: SubmissionFields;
  /**
   * A stricter rule for what the upload may be (the seeds' routes take MP4/MOV only), run on the same
   * first bytes the upload guard sniffs, before the guard's own checks.
   */
  checkMedia?: MediaCheck;
  /** Who submits: the job belongs to this tenant, and its Idempotency-Key is scoped to it. */
  tenant: string;
  idempotencyKey: string | null;
  correlationId: string;
}

/** The 202's body, and whether it replays an earlier submission. */
export interface SubmitResult extends JobSubmitted {
  /** True when this answers a repeated Idempotency-Key: nothing new was stored or published. */
  replayed: boolean;
}

export const SUBMIT_FIELDS = new Set(['pipeline', 'params', 'priority']);

/**
 * How long an upload waits for NATS to come back once the connection has dropped before it answers
 * 503: longer than the client's reconnect to another server of a cluster (a few hundred ms), far
 * shorter than the Object Store's request timeouts.
 */
const UPLOAD_OUTAGE_GRACE_MS = 2000;

/**
 * Submitting a job: check the fields that came before the file (checkFieldsSoFar) and what the upload
 * is from its first bytes (guardUpload), store it, validate every field, publish `VideoSubmitted` as
 * the job's first event (expecting sequence 0 over all of the job's subjects: the job has nothing yet).
 * A rejected submission leaves no object and publishes nothing: refused before the file is stored
 * when the fields that decide it came first, or with its object removed when they came after the file.
 * With an Idempotency-Key the job id is derived from the key, so the stream itself keeps a key from
 * ever making a second job, at any priority; a repeat with the same content gets the first answer back.
 */
@Injectable()
export class SubmitJobService {
  private readonly logger = new Logger(SubmitJobService.name);
  private roomCache: { at: number; room: Promise<number> } | null = null;

  constructor(
    private readonly store: EventStore,
    private readonly blobs: BlobStore,
    private readonly clock: Clock,
    private readonly ids: IdGenerator,
    private readonly metrics: GatewayMetrics,
    private readonly catalog: ToolCatalog,
    private readonly nats: NatsAvailability,
  ) {}

  async submit(command: SubmitCommand): Promise<SubmitResult> {
    const jobId = command.idempotencyKey ? idempotentJobId(command.tenant, command.idempotencyKey) : this.ids.next();
    // The request's span (the current one) names the job it submits.
    if (tracingActive()) traceApi.getActiveSpan()?.setAttribute(TraceAttr.jobId, jobId);
    if (command.idempotencyKey) {
      const prior = await this.priorSubmission(jobId);
      if (prior) return this.replay(prior.event, command.source, command.fields);
    }

    const received = await command.source(
      async (part) => {
        // Fields sent before the file (as the CLI and the dashboard send them) are refused before any of it is stored.
        if (!command.fields) checkFieldsSoFar(part.fieldsBefore, this.catalog);
        // An adopted upload's name is its own (`uploads/<job>/<upload id>`): a retried completion names the same object.
        return this.storeUpload(jobId, `uploads/${jobId}/${part.stored?.objectId ?? this.ids.next()}`, part, command.checkMedia);
      },
      async (stored) => void (await this.blobs.delete(stored.blob.name)),
    );
    const upload = received.file;
    let keepUpload = false;
    let failure: unknown = null;
    try {
      if (!upload) throw new ApiError(ErrorCode.FileRequired, 'the request has no "file" part');
      if (upload.blob.size === 0) throw new ApiError(ErrorCode.EmptyFile, 'the uploaded file is empty');
      const { pipeline, params, priority } = command.fields ?? parseSubmissionFields(received.fields, this.catalog);
      const video = {
        bucket: upload.blob.bucket,
        objectName: upload.blob.name,
        filename: upload.filename,
        size: upload.blob.size,
        contentType: upload.contentType,
        sha256: upload.blob.sha256,
      };
      // With a key, the event id is derived from the job id. The expected sequence refuses a second
      // submission of the job on its own (the server checks it before the duplicate window); the id
      // still matters in a rolling upgrade, where a release that checked each priority's subject
      // alone stores the same key's submission once within the duplicate window.
      const eventId = command.idempotencyKey ? idempotentEventId(jobId) : this.ids.next();
      const submit: JobCommand = {
        kind: 'Submit',
        jobId,
        correlationId: command.correlationId,
        data: { pipeline, params, tenant: command.tenant, priority, video },
        stamp: { at: this.clock.now().toISOString(), nextId: () => eventId },
      };
      let outcome;
      try {
        // Appended without reading first: it expects the job to have no event on any of its subjects,
        // so the server refuses it when the key's job exists (stored since the check above, at any
        // priority), and only then is the job read (runCommand decides again: already submitted).
        outcome = await runCommand(this.store, submit, { assumed: NO_JOB });
      } catch (error) {
        // NATS went away while the event was on its way: it may have been stored. Keep the upload, so
        // that a job that exists never points at a deleted video (a retry with the same
        // Idempotency-Key finds the job); at worst the object is an orphan.
        if (isNatsUnavailableError(error)) keepUpload = true;
        // The event log is at its size limit: nothing was appended, and the upload goes (below).
        if (isStorageFullError(error)) throw new ApiError(ErrorCode.StorageFull, 'the event log is full: no new job can be stored now; try again later');
        throw error;
      }
      if (outcome.kind === 'refused') {
        // Another request with the key stored the job first: answered as it was answered (or 422 for
        // another body), from the history the refusal was decided on. A stored submission needs no
        // read back: the server stored it as the job's first event.
        const prior = this.readableSubmission(jobId, outcome.history.submission);
        if (!prior) throw new ApiError(ErrorCode.Internal, 'the submission for this key could not be read back');
        // An adopted upload completed twice at once names the same object: it is the job's, kept.
        if (prior.data.video.objectName === upload.blob.name) keepUpload = true;
        return this.compare(prior, upload.blob.sha256, received.fields, command.fields);
      }
      keepUpload = true;
      this.metrics.submitted.inc({ pipeline, priority });
      return { job_id: jobId, status: 'queued', pipeline, priority, submitted_at: submit.stamp.at, replayed: false };
    } catch (error) {
      failure = error;
      throw error;
    } finally {
      if (upload && !keepUpload) {
        // An adopted upload's chunks stay its upload's unless the submission was refused for good:
        // after a passing failure only the metadata goes, and the upload completes again later.
        const passing = upload.adopted && !(failure instanceof ApiError && isFinalRefusal(failure));
        const drop = passing ? this.blobs.forget(upload.blob.name) : this.blobs.delete(upload.blob.name);
        await drop.catch((e: unknown) => this.logger.error(`could not delete ${upload.blob.name}: ${String(e)}`));
      }
    }
  }

  /**
   * Refuses, before the body is read, an upload that cannot fit in what the bucket has left under its
   * size limit (NATS_BUCKET_MAX_BYTES). `bytes` is the request's Content-Length, which also counts
   * the multipart framing and fields: `slack` of it is given the benefit of the doubt.
   */
  async assertRoomFor(bytes: number, slack: number): Promise<void> {
    if (!Number.isFinite(bytes)) return;
    const room = await this.room();
    if (bytes > room + slack) throw new ApiError(ErrorCode.StorageFull, `the video store is full: it has room for ${Math.floor(room)} more bytes, and this request has ${bytes}`);
  }

  /** What the bucket has left, read at most once a second (a burst of uploads asks JetStream once). */
  private async room(): Promise<number> {
    const now = Date.now();
    if (!this.roomCache || now - this.roomCache.at > 1000) {
      // Unknown when NATS is lost meanwhile: the upload that follows answers 503 for it.
      this.roomCache = { at: now, room: this.nats.unlessLost(this.blobs.room(), 0).catch(() => Number.POSITIVE_INFINITY) };
    }
    return this.roomCache.room;
  }

  /**
   * Stores the upload as the job's video; with tracing on, inside an `upload video` span with the
   * job and the bytes stored (for a resumable upload, whose bytes are already in the bucket, the
   * span is the read through the checks and the adoption).
   */
  private async storeUpload(jobId: string, objectName: string, part: FilePart, checkMedia?: MediaCheck): Promise<StoredUpload> {
    if (!tracingActive()) return this.storeUploadUntraced(objectName, part, checkMedia);
    const attributes = { [TraceAttr.jobId]: jobId, ...(part.stored ? { [TraceAttr.uploadId]: part.stored.objectId } : {}) };
    return inSpan('upload video', { kind: SpanKind.INTERNAL, attributes }, async (span) => {
      const stored = await this.storeUploadUntraced(objectName, part, checkMedia);
      span.setAttribute(TraceAttr.uploadBytes, stored.blob.size);
      return stored;
    });
  }

  private async storeUploadUntraced(objectName: string, part: FilePart, checkMedia?: MediaCheck): Promise<StoredUpload> {
    // Nothing is stored until the first bytes say this is a video container; the content type stored
    // is the one sniffed, not the one the client claimed.
    const { stream, media } = await guardUpload(part.stream, checkMedia);
    const write = async (): Promise<StoredBlob> => {
      if (!part.stored) return this.blobs.put(objectName, stream, media.contentType);
      // Already in the bucket as chunks: read through the same checks (nothing is written), then adopted.
      await pipe(stream, new Writable({ write: (_chunk, _enc, done) => done() }));
      return this.blobs.adopt(objectName, part.stored, media.contentType);
    };
    let blob: StoredBlob;
    try {
      // When NATS goes away during the upload, the answer is a 503 within UPLOAD_OUTAGE_GRACE_MS, not
      // after the Object Store's requests have each timed out; the body stops being read, which fails
      // the put (what it wrote and cannot purge is left to the storage sweep).
      blob = await this.nats.unlessLost(write(), UPLOAD_OUTAGE_GRACE_MS).catch((error: unknown) => {
        if (error instanceof NatsConnectionLostError) stream.destroy(error);
        throw error;
      });
    } catch (error) {
      if (isNatsUnavailableError(error)) {
        throw new ApiError(ErrorCode.ServiceUnavailable, 'NATS became unreachable during the upload; try again shortly', { 'Retry-After': '1' });
      }
      // The bucket is at its size limit: the put has purged the chunks it had written.
      if (isStorageFullError(error)) throw new ApiError(ErrorCode.StorageFull, 'the video store is full: the upload was not stored; try again later');
      throw error;
    }
    return { blob, filename: part.filename, contentType: media.contentType, adopted: part.stored !== undefined };
  }

  /** The job's first submission; null when there is none. */
  private async priorSubmission(jobId: string): Promise<{ event: VideoSubmitted } | null> {
    const item = await this.store.firstSubmission(jobId);
    if (!item) return null;
    const event = this.readableSubmission(jobId, { seq: item.ok ? item.stored.seq : item.malformed.seq, event: item.ok && item.stored.event.type === 'VideoSubmitted' ? item.stored.event : null });
    return event ? { event } : null;
  }

  /** A job's first submission, refused with 503 when this release cannot read it; null when there is none. */
  private readableSubmission(jobId: string, submission: Stored<VideoSubmitted> | null): VideoSubmitted | null {
    if (!submission) return null;
    if (!submission.event) {
      // A newer release stored it (a rolling upgrade): left alone until a release that can read it answers.
      this.logger.warn({ jobId, seq: submission.seq }, 'the submission for this Idempotency-Key is an event this release cannot read; refused');
      throw new ApiError(ErrorCode.JobHistoryUnreadable, 'the job of this Idempotency-Key was stored by a newer release, which this one cannot read; try again later');
    }
    return submission.event;
  }

  /** A repeated key: read the body through a hash only (nothing is stored), then compare. */
  private async replay(prior: VideoSubmitted, source: SubmissionSource, preset?: SubmissionFields): Promise<SubmitResult> {
    const received = await source(
      async (part) => {
        // An adopted upload's digest is known without reading it.
        if (part.stored) return digestToHex(part.stored.digest);
        const hash = createHash('sha256');
        await pipe(part.stream, new Writable({ write: (chunk: Buffer, _enc, done) => (hash.update(chunk), done()) }));
        return hash.digest('hex');
      },
      async () => undefined,
    );
    if (received.file === null) throw new ApiError(ErrorCode.FileRequired, 'the request has no "file" part');
    return this.compare(prior, received.file, received.fields, preset);
  }

  private compare(prior: VideoSubmitted, sha256: string, fields: Map<string, string>, preset?: SubmissionFields): SubmitResult {
    const { pipeline, params, priority } = preset ?? parseSubmissionFields(fields, this.catalog);
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

/** An upload stored as a job's video. */
interface StoredUpload {
  blob: StoredBlob;
  filename: string;
  contentType: string;
  /** Adopted from a resumable upload's chunks rather than written now. */
  adopted: boolean;
}

/** A refusal of the submission itself (its content or fields), as opposed to a passing failure (5xx, 429). */
function isFinalRefusal(error: ApiError): boolean {
  const status = statusOf(error.code);
  return status < 500 && status !== 429;
}

export interface SubmissionFields {
  pipeline: string;
  params: Record<string, unknown>;
  priority: JobPriority;
}

/** `pipeline` (default probe), `params` (a JSON object valid for that pipeline) and `priority` (default normal). */
export function parseSubmissionFields(fields: ReadonlyMap<string, string>, catalog: ToolCatalog): SubmissionFields {
  const priority = parsePriority(fields.get('priority'));
  const pipeline = fields.get('pipeline')?.trim() || DEFAULT_PIPELINE;
  return { pipeline, params: validateParams(catalog, pipeline, parseParamsJson(fields.get('params'))), priority };
}

/**
 * Checks the fields that arrived before the file, each as far as it can be judged without those that
 * may still follow it: the priority, the pipeline's name, the params as JSON, and the params against
 * the pipeline when the pipeline came first too. The whole set is checked again (parseSubmissionFields)
 * once the body has ended.
 */
export function checkFieldsSoFar(fields: ReadonlyMap<string, string>, catalog: ToolCatalog): void {
  if (fields.has('priority')) parsePriority(fields.get('priority'));
  const pipeline = fields.get('pipeline')?.trim();
  if (pipeline) requirePipeline(catalog, pipeline);
  if (!fields.has('params')) return;
  const raw = parseParamsJson(fields.get('params'));
  if (pipeline) validateParams(catalog, pipeline, raw);
}

function parsePriority(text: string | undefined): JobPriority {
  const priority = jobPrioritySchema.safeParse(text?.trim() || DEFAULT_PRIORITY);
  if (!priority.success) {
    throw new ApiError(ErrorCode.ValidationFailed, `"priority" must be one of ${JOB_PRIORITIES.join(', ')}`);
  }
  return priority.data;
}

function parseParamsJson(text: string | undefined): unknown {
  if (text === undefined || text.trim() === '') return {};
  try {
    return JSON.parse(text);
  } catch {
    throw new ApiError(ErrorCode.InvalidParams, '"params" is not valid JSON');
  }
}

/**
 * Checks params against the pipeline's merged schema (unknown keys rejected) and returns them with
 * their defaults filled in, as the event will carry them. Params are the client's own data, handed to
 * tools as they are: a string or key that is not clean text (a lone surrogate or NUL escape, which
 * JSON allows and PostgreSQL refuses) is refused rather than changed.
 */
export function validateParams(catalog: ToolCatalog, pipeline: string, raw: unknown): Record<string, unknown> {
  const entry = requirePipeline(catalog, pipeline);
  const unclean = findUncleanText(raw);
  if (unclean !== null) {
    throw new ApiError(ErrorCode.InvalidParams, `invalid params: ${unclean}: text must be well-formed Unicode without NUL (no lone surrogate or \\u0000 escape)`);
  }
  const parsed = entry.params.safeParse(raw);
  if (!parsed.success) {
    throw new ApiError(ErrorCode.InvalidParams, `invalid params for ${pipeline}: ${summarizeIssues(parsed.error)}`);
  }
  return parsed.data as Record<string, unknown>;
}

function requirePipeline(catalog: ToolCatalog, pipeline: string) {
  const entry = catalog.pipeline(pipeline);
  if (!entry) {
    throw new ApiError(ErrorCode.UnknownPipeline, `unknown pipeline "${pipeline.slice(0, 64)}"; known: ${catalog.pipelineNames().join(', ')}`);
  }
  return entry;
}
