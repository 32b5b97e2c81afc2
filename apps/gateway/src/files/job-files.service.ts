import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import { ErrorCode, type JobArtifacts, type JobFiles, type JobView, type Principal } from '@app/contracts';
import { BlobStore } from '@app/blob-store';
import { ApiError } from '../http/api-error.js';
import { selectBytes, type FileConditions } from './byte-range.js';
import { inlineDisposition } from '../http/content-disposition.js';
import { JobQueriesClient } from '../jobs/job-queries.client.js';

/** A file to send: its headers and a stream of its body (or of the requested range of it). */
export interface FileResponse {
  status: 200 | 206 | 304;
  headers: Record<string, string>;
  /** Null for a 304: nothing was read. */
  body: Readable | null;
}

/** See JobFilesService.artifact: any cache may keep an artifact only to revalidate it, and only a private one. */
export const ARTIFACT_CACHE_CONTROL = 'private, no-cache';

/**
 * A job's outputs over HTTP: the result (inline, or read from the Object Store), the artifacts and the
 * original upload. Where each file is comes from the jobs service, asked with the caller's scope (so
 * another tenant's job is 404 like a missing one); the bytes come from the Object Store.
 */
@Injectable()
export class JobFilesService {
  constructor(
    private readonly queries: JobQueriesClient,
    private readonly blobs: BlobStore,
  ) {}

  /** The job's result: inline, or a stream of the stored JSON. 409 until the job has completed. */
  async result(principal: Principal, jobId: string): Promise<{ inline: JobView['result'] } | { stream: Readable; size: number }> {
    const job = await this.queries.requireVisible(principal, jobId);
    if (job.status !== 'completed') {
      throw new ApiError(ErrorCode.JobNotCompleted, `job ${jobId} is ${job.status}; its result exists once it has completed`);
    }
    if (job.result_location !== 'object_store') return { inline: job.result };
    const files = await this.files(principal, jobId);
    const opened = files.result_ref ? await this.blobs.open(files.result_ref.objectName) : null;
    if (!opened) throw new ApiError(ErrorCode.Internal, `the stored result of job ${jobId} is missing`);
    return { stream: opened.stream, size: opened.blob.size };
  }

  async artifacts(principal: Principal, jobId: string): Promise<JobArtifacts> {
    const job = await this.queries.requireVisible(principal, jobId);
    return { job_id: job.job_id, status: job.status, artifacts: job.artifacts };
  }

  /**
   * One artifact by name (already checked to be a plain file name: see parseArtifactName), whole or
   * one byte range of it (an HLS player reads its fragmented MP4 by ranges), or 304 when the caller
   * has it already (see selectBytes). Its bytes never change under an attempt, but the URL names the
   * job's current artifacts, which a redrive or a deletion changes: so a cache may keep it only to
   * revalidate it (`no-cache`) against its ETag, the SHA-256 of its bytes, and only the caller's own
   * cache may (`private`: it was read with a key or a media link).
   */
  async artifact(principal: Principal, jobId: string, name: string, conditions: FileConditions = {}): Promise<FileResponse> {
    const files = await this.files(principal, jobId);
    const ref = files.artifacts.find((a) => a.name === name);
    if (!ref) throw new ApiError(ErrorCode.ArtifactNotFound, `job ${jobId} has no artifact "${name}"`);
    const headers = {
      'Content-Type': servedContentType(ref.contentType),
      'Accept-Ranges': 'bytes',
      'Content-Disposition': inlineDisposition(name, 'artifact'),
      ETag: `"${ref.sha256}"`,
      'Cache-Control': ARTIFACT_CACHE_CONTROL,
      'X-Content-Type-Options': 'nosniff',
    };
    const missing = () => new ApiError(ErrorCode.ArtifactNotFound, `artifact "${name}" of job ${jobId} is no longer stored`);
    return this.serve(ref, headers, conditions, `artifact "${name}"`, missing);
  }

  /**
   * The original upload, whole (200) or one byte range of it (206). A range that starts beyond the
   * end is 416 with `Content-Range: bytes *\/size`; several ranges are served as the whole file.
   */
  async video(principal: Principal, jobId: string, conditions: FileConditions = {}): Promise<FileResponse> {
    const { video } = await this.files(principal, jobId);
    const headers = {
      'Content-Type': servedContentType(video.contentType),
      'Accept-Ranges': 'bytes',
      'Content-Disposition': inlineDisposition(video.filename, 'video'),
      ETag: `"${video.sha256}"`,
      'X-Content-Type-Options': 'nosniff',
    };
    return this.serve(video, headers, conditions, 'the video', () => new ApiError(ErrorCode.JobNotFound, `the upload of job ${jobId} is no longer stored`));
  }

  /** A stored object with `headers`: 304, whole, or the range the conditions select, read from the Object Store. */
  private async serve(
    stored: { objectName: string; size: number },
    headers: Record<string, string>,
    conditions: FileConditions,
    what: string,
    missing: () => ApiError,
  ): Promise<FileResponse> {
    const { size } = stored;
    const selected = selectBytes(size, headers['ETag']!, conditions, what);
    if (selected.status === 304) {
      // Only what a 200 would have said about caching and identity (RFC 9110 15.4.5).
      const { ETag, 'Cache-Control': cacheControl } = headers;
      return { status: 304, headers: { ETag: ETag!, ...(cacheControl ? { 'Cache-Control': cacheControl } : {}) }, body: null };
    }
    const range = selected.status === 206 ? { start: selected.start, end: selected.end } : undefined;
    const opened = await this.blobs.open(stored.objectName, range);
    if (!opened) throw missing();
    if (!range) return { status: 200, headers: { ...headers, 'Content-Length': String(size) }, body: opened.stream };
    return {
      status: 206,
      headers: { ...headers, 'Content-Length': String(range.end - range.start + 1), 'Content-Range': `bytes ${range.start}-${range.end}/${size}` },
      body: opened.stream,
    };
  }

  /** Where the job's files are; 404 JOB_NOT_FOUND when it does not exist or the principal may not see it. */
  private async files(principal: Principal, jobId: string): Promise<JobFiles> {
    const files = await this.queries.files(principal, jobId);
    if (!files) throw new ApiError(ErrorCode.JobNotFound, `no job ${jobId}`);
    return files;
  }
}

/** A media type as stored (by a tool or an old event) if it is one, else application/octet-stream: a header never fails. */
function servedContentType(value: string): string {
  return /^[\w!#$&^.+-]+\/[\w!#$&^.+-]+(?: *; *[\w!#$&^.+-]+=(?:[\w!#$&^.+-]+|"[\x20\x21\x23-\x5b\x5d-\x7e]*"))*$/.test(value) ? value : 'application/octet-stream';
}
