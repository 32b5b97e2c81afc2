import type { Readable } from 'node:stream';
import { Injectable } from '@nestjs/common';
import parseRange from 'range-parser';
import { ErrorCode, type JobArtifacts, type JobFiles, type JobView, type Principal } from '@app/contracts';
import { BlobStore } from '@app/blob-store';
import { ApiError } from '../http/api-error.js';
import { inlineDisposition } from '../http/content-disposition.js';
import { JobQueriesClient } from '../jobs/job-queries.client.js';

/** A file to send: its headers and a stream of its body (or of the requested range of it). */
export interface FileResponse {
  status: 200 | 206;
  headers: Record<string, string>;
  body: Readable;
}

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

  /** One artifact by name (already checked to be a plain file name: see parseArtifactName). */
  async artifact(principal: Principal, jobId: string, name: string): Promise<FileResponse> {
    const files = await this.files(principal, jobId);
    const ref = files.artifacts.find((a) => a.name === name);
    if (!ref) throw new ApiError(ErrorCode.ArtifactNotFound, `job ${jobId} has no artifact "${name}"`);
    const opened = await this.blobs.open(ref.objectName);
    if (!opened) throw new ApiError(ErrorCode.ArtifactNotFound, `artifact "${name}" of job ${jobId} is no longer stored`);
    return {
      status: 200,
      headers: {
        'Content-Type': servedContentType(ref.contentType),
        'Content-Length': String(ref.size),
        'Content-Disposition': inlineDisposition(name, 'artifact'),
        ETag: `"${ref.sha256}"`,
        'Cache-Control': 'private, max-age=31536000, immutable',
        'X-Content-Type-Options': 'nosniff',
      },
      body: opened.stream,
    };
  }

  /**
   * The original upload, whole (200) or one byte range of it (206). A range that starts beyond the
   * end is 416 with `Content-Range: bytes *\/size`; several ranges are served as the whole file.
   */
  async video(principal: Principal, jobId: string, rangeHeader: string | undefined): Promise<FileResponse> {
    const { video } = await this.files(principal, jobId);
    const size = video.size;
    const headers: Record<string, string> = {
      'Content-Type': servedContentType(video.contentType),
      'Accept-Ranges': 'bytes',
      'Content-Disposition': inlineDisposition(video.filename, 'video'),
      ETag: `"${video.sha256}"`,
      'X-Content-Type-Options': 'nosniff',
    };
    let range: { start: number; end: number } | undefined;
    if (rangeHeader) {
      const parsed = parseRange(size, rangeHeader, { combine: true });
      if (parsed === -1) {
        throw new ApiError(ErrorCode.RangeNotSatisfiable, `the range ${rangeHeader.slice(0, 100)} is outside the ${size} bytes of the video`, { 'Content-Range': `bytes */${size}` });
      }
      if (parsed !== -2 && parsed.type === 'bytes' && parsed.length === 1) range = parsed[0];
    }
    const opened = await this.blobs.open(video.objectName, range);
    if (!opened) throw new ApiError(ErrorCode.JobNotFound, `the upload of job ${jobId} is no longer stored`);
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
