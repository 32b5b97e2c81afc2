import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { basename } from 'node:path';
import * as tus from 'tus-js-client';
import type { JobSubmitted, JobView } from '@app/contracts';
import { authHeaders, errorFromBody, getJson, gatewayUrl, unreachable, type GatewayOptions } from '../gateway/gateway-client.js';
import type { SubmitFields } from './upload.js';

/** One PATCH per 32 MiB: what a dropped connection costs at most, and what the client holds in memory. */
export const RESUMABLE_CHUNK_BYTES = 32 * 1024 * 1024;
/** Retries after a dropped connection or a gateway that is away (each resumes from the offset it reports). */
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10_000, 10_000, 20_000, 30_000, 30_000, 60_000];

/**
 * Uploads a video with the resumable upload (`/v1/uploads`, tus, tus-js-client): the file is read
 * from disk a chunk at a time, and after a dropped connection, a gateway restart or a 5xx the
 * client asks the gateway for the offset it holds and goes on from there. The PATCH that brings the
 * last byte names the job (Framewire-Job-Id), which is then read back as POST /v1/jobs would answer it.
 */
export async function uploadResumable(
  options: GatewayOptions,
  path: string,
  fields: SubmitFields,
  onProgress: (sent: number, total: number) => void,
  retryDelays: number[] = RETRY_DELAYS_MS,
): Promise<JobSubmitted> {
  const size = (await stat(path)).size;
  const metadata: Record<string, string> = { filename: basename(path) };
  if (fields.pipeline) metadata['pipeline'] = fields.pipeline;
  if (fields.params) metadata['params'] = fields.params;
  if (fields.priority) metadata['priority'] = fields.priority;
  let jobId: string | null = null;
  await new Promise<void>((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(path), {
      endpoint: gatewayUrl(options, 'v1/uploads').toString(),
      headers: authHeaders(options),
      metadata,
      uploadSize: size,
      chunkSize: RESUMABLE_CHUNK_BYTES,
      retryDelays,
      // A refusal (4xx but 409/423/429) will not go away by retrying: it is reported at once.
      onShouldRetry: (error) => {
        const status = error.originalResponse?.getStatus() ?? 0;
        return status === 0 || status >= 500 || status === 409 || status === 423 || status === 429;
      },
      onProgress,
      onAfterResponse: (req, res) => {
        if (req.getMethod() !== 'OPTIONS') jobId = res.getHeader('Framewire-Job-Id') ?? jobId;
      },
      onError: (error) => {
        const res = (error as tus.DetailedError).originalResponse;
        reject(res ? errorFromBody(res.getStatus(), res.getBody() ?? '') : unreachable(options, error));
      },
      onSuccess: () => resolve(),
    });
    upload.start();
  });
  if (!jobId) throw errorFromBody(0, '', 'the upload finished without naming its job');
  const job = await getJson<JobView>(options, `v1/jobs/${jobId}`);
  return { job_id: job.job_id, status: 'queued', pipeline: job.pipeline, priority: job.priority, submitted_at: job.created_at };
}
