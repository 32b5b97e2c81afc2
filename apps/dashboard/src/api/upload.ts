import { defaultOptions, Upload, type DetailedError } from 'tus-js-client';
import type { JobPriority, JobSubmitted } from '@app/contracts';
import { api, ApiError, apiErrorOf } from './api-client';
import { authHeaders } from './api-key';

export interface UploadRequest {
  file: File;
  pipeline: string;
  /** JSON text of the params object; empty for none. */
  params: string;
  priority: JobPriority;
}

/** One PATCH per 16 MiB: what a dropped connection costs at most. */
const CHUNK_BYTES = 16 * 1024 * 1024;
/** Retries after a dropped connection or a gateway that is away; each resumes from the offset the gateway reports. */
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10_000, 20_000, 30_000, 60_000];

/**
 * The resumable upload (`/v1/uploads`, tus) with tus-js-client: the file goes in chunks, and after
 * a dropped connection the client asks the gateway where the upload stands and goes on from there.
 * The PATCH that brings the last byte names the job (Framewire-Job-Id). `onProgress` gets a
 * fraction from 0 to 1. Abort with `signal` (the unfinished upload is terminated).
 */
export function uploadJob(request: UploadRequest, onProgress: (fraction: number) => void, signal?: AbortSignal): Promise<JobSubmitted> {
  return new Promise((resolve, reject) => {
    let jobId: string | null = null;
    const metadata: Record<string, string> = { filename: request.file.name, pipeline: request.pipeline, priority: request.priority };
    if (request.params.trim()) metadata['params'] = request.params;
    const upload = new Upload(request.file, {
      endpoint: new URL('/v1/uploads', window.location.href).toString(),
      headers: authHeaders(),
      metadata,
      chunkSize: CHUNK_BYTES,
      retryDelays: RETRY_DELAYS_MS,
      // The upload's address is kept in localStorage until it ends, so the same file dropped again
      // after a reload, a closed tab or a crash goes on from the gateway's offset. The same file for
      // another pipeline, other params or another key is another upload.
      storeFingerprintForResuming: true,
      removeFingerprintOnSuccess: true,
      fingerprint: async (file, options) => `${await defaultOptions.fingerprint(file, options)}-${submissionTag(metadata)}`,
      onShouldRetry: (error) => {
        const status = error.originalResponse?.getStatus() ?? 0;
        return status === 0 || status >= 500 || status === 409 || status === 423 || status === 429;
      },
      onProgress: (sent, total) => {
        if (total > 0) onProgress(sent / total);
      },
      onAfterResponse: (_req, res) => {
        jobId = res.getHeader('Framewire-Job-Id') ?? jobId;
      },
      onError: (error) => {
        const res = (error as DetailedError).originalResponse;
        if (!res) return reject(new ApiError(0, 'NETWORK', 'the upload failed: the gateway did not answer'));
        let body: unknown = null;
        try {
          body = JSON.parse(res.getBody() ?? '');
        } catch {
          // not JSON
        }
        reject(apiErrorOf(res.getStatus(), body, `upload failed with HTTP ${res.getStatus()}`));
      },
      onSuccess: () => {
        if (!jobId) return reject(new ApiError(0, 'NETWORK', 'the upload finished without naming its job'));
        onProgress(1);
        api.getJob(jobId).then(
          (job) => resolve({ job_id: job.job_id, status: 'queued', pipeline: job.pipeline, priority: job.priority, submitted_at: job.created_at }),
          reject,
        );
      },
    });
    signal?.addEventListener(
      'abort',
      () => {
        void upload.abort(true).catch(() => undefined);
        reject(new ApiError(0, 'ABORTED', 'the upload was cancelled'));
      },
      { once: true },
    );
    void upload
      .findPreviousUploads()
      .catch(() => [])
      .then((previous) => {
        const latest = [...previous].sort((a, b) => b.creationTime.localeCompare(a.creationTime))[0];
        if (latest) upload.resumeFromPreviousUpload(latest);
        if (!signal?.aborted) upload.start();
      });
  });
}

/**
 * A short tag of what the upload is for (its fields and the key sending it), part of its fingerprint:
 * FNV-1a, 32 bits twice. Not a secret and not a security check (a foreign upload is 404 and then made
 * again); crypto.subtle is not used because a dashboard on plain http outside localhost has none.
 */
function submissionTag(metadata: Record<string, string>): string {
  const text = JSON.stringify([metadata, authHeaders()['Authorization'] ?? '']);
  let a = 0x811c9dc5;
  let b = 0x01000193 ^ text.length;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193) >>> 0;
    b = Math.imul(b ^ c, 0x5bd1e995) >>> 0;
  }
  return a.toString(16).padStart(8, '0') + b.toString(16).padStart(8, '0');
}
