import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, stat } from 'node:fs/promises';
import { homedir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import * as tus from 'tus-js-client';
import { errorFromBody, type JobSubmitted } from '@framewire/client';
import { clientFor, GatewayError, type GatewayOptions } from '../gateway/gateway-client.js';
import type { SubmitFields } from './upload.js';

/** One PATCH per 32 MiB: what a dropped connection costs at most, and what the client holds in memory. */
export const RESUMABLE_CHUNK_BYTES = 32 * 1024 * 1024;
/** Retries after a dropped connection or a gateway that is away (each resumes from the offset it reports). */
const RETRY_DELAYS_MS = [0, 1000, 3000, 5000, 10_000, 10_000, 20_000, 30_000, 30_000, 60_000];

/**
 * Where `framewire submit` remembers its unfinished uploads, so that running it again on the same
 * file (after Ctrl-C, a crash or a laptop that slept) resumes instead of starting over:
 * `$FRAMEWIRE_CACHE_DIR` (default `${XDG_CACHE_HOME:-~/.cache}/framewire`), `uploads.json`.
 */
export function defaultUploadStateFile(env: NodeJS.ProcessEnv = process.env): string {
  const cache = env['FRAMEWIRE_CACHE_DIR'] || join(env['XDG_CACHE_HOME'] || join(homedir(), '.cache'), 'framewire');
  return join(cache, 'uploads.json');
}

/** tus-js-client's file-backed URL store (exported by its Node build, missing from its typings). */
const { FileUrlStorage } = tus as unknown as { FileUrlStorage: new (path: string) => NonNullable<tus.UploadOptions['urlStorage']> };

export interface ResumableOptions {
  /** Delays of the retries within this run. */
  retryDelays?: number[];
  /** The file that remembers unfinished uploads across runs; null: none (a new run starts over). */
  stateFile?: string | null;
}

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
  { retryDelays = RETRY_DELAYS_MS, stateFile = defaultUploadStateFile() }: ResumableOptions = {},
): Promise<JobSubmitted> {
  const size = (await stat(path)).size;
  const metadata: Record<string, string> = { filename: basename(path) };
  if (fields.pipeline) metadata['pipeline'] = fields.pipeline;
  if (fields.params) metadata['params'] = fields.params;
  if (fields.priority) metadata['priority'] = fields.priority;
  // The same file sent again for another pipeline, other params or with another key is another
  // upload: the fingerprint tus-js-client keys its store by (path, size, mtime, endpoint) gets these too.
  const submission = createHash('sha256').update(JSON.stringify([metadata, options.apiKey ?? ''])).digest('base64url').slice(0, 22);
  if (stateFile) await mkdir(dirname(stateFile), { recursive: true });
  const client = clientFor(options);
  let jobId: string | null = null;
  await new Promise<void>((resolve, reject) => {
    const upload = new tus.Upload(createReadStream(path), {
      endpoint: `${client.baseUrl}/v1/uploads`,
      headers: client.headers,
      metadata,
      uploadSize: size,
      chunkSize: RESUMABLE_CHUNK_BYTES,
      retryDelays,
      ...(stateFile
        ? {
            urlStorage: new FileUrlStorage(stateFile),
            fingerprint: async (file, o) => `${await tus.defaultOptions.fingerprint(file, o)}-${submission}`,
            storeFingerprintForResuming: true,
            removeFingerprintOnSuccess: true,
          }
        : { storeFingerprintForResuming: false }),
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
        reject(res ? errorFromBody(res.getStatus(), res.getBody() ?? '') : new GatewayError(0, 'UNREACHABLE', `no gateway at ${client.baseUrl} (${error.message})`));
      },
      onSuccess: () => resolve(),
    });
    // An upload of this file left unfinished by an earlier run goes on from the gateway's offset (an
    // expired or unknown one is made again by tus-js-client).
    void upload
      .findPreviousUploads()
      .catch(() => [])
      .then((previous) => {
        const latest = [...previous].sort((a, b) => b.creationTime.localeCompare(a.creationTime))[0];
        if (latest) upload.resumeFromPreviousUpload(latest);
        upload.start();
      });
  });
  if (!jobId) throw errorFromBody(0, '', 'the upload finished without naming its job');
  const job = await client.getJob(jobId);
  return { job_id: job.job_id, status: 'queued', pipeline: job.pipeline, priority: job.priority, submitted_at: job.created_at };
}
