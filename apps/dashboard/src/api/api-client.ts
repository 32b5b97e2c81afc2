import { authHeaders } from './api-key';
import type { ArtifactInfo, DeadLetter, EventsPage, JobsPage, JobView, MediaLinks, PipelineInfo, SystemView, WorkerInfo } from './types';
import { listOf } from './types';

/** An error answer of the API, with its stable code; or a network failure (code NETWORK). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** Reads `{"error":{"code","message"}}` from a failed response, whatever else it holds. */
export async function errorOf(res: Response): Promise<ApiError> {
  let code = res.status === 401 ? 'UNAUTHORIZED' : `HTTP_${res.status}`;
  let message = res.statusText || `HTTP ${res.status}`;
  try {
    const body = (await res.json()) as { error?: { code?: string; message?: string } };
    if (body.error?.code) code = body.error.code;
    if (body.error?.message) message = body.error.message;
  } catch {
    // Not JSON: keep the status line.
  }
  return new ApiError(res.status, code, message);
}

/** fetch with the API key, turning a failure into an ApiError. */
export async function apiFetch(path: string, init: RequestInit = {}): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(path, { ...init, headers: { Accept: 'application/json', ...authHeaders(), ...(init.headers as Record<string, string>) } });
  } catch (error) {
    throw new ApiError(0, 'NETWORK', `the gateway did not answer: ${error instanceof Error ? error.message : String(error)}`);
  }
  if (!res.ok) throw await errorOf(res);
  return res;
}

async function json<T>(path: string, init?: RequestInit): Promise<T> {
  return (await (await apiFetch(path, init)).json()) as T;
}

const q = (params: Record<string, string | number | undefined | null>) => {
  const search = new URLSearchParams();
  for (const [key, value] of Object.entries(params)) if (value !== undefined && value !== null && value !== '') search.set(key, String(value));
  const text = search.toString();
  return text ? `?${text}` : '';
};

const jobPath = (id: string) => `/v1/jobs/${encodeURIComponent(id)}`;

export const api = {
  listJobs: (filter: { status?: string; pipeline?: string; limit: number; cursor?: string | null }) =>
    json<JobsPage>(`/v1/jobs${q({ status: filter.status, pipeline: filter.pipeline, limit: filter.limit, cursor: filter.cursor })}`),
  getJob: (id: string) => json<JobView>(jobPath(id)),
  jobEvents: (id: string, afterSeq = 0) => json<EventsPage>(`${jobPath(id)}/events${q({ after_seq: afterSeq, limit: 1000 })}`),
  jobResult: (id: string) => json<unknown>(`${jobPath(id)}/result`),
  artifacts: async (id: string) => listOf<ArtifactInfo>(await json<unknown>(`${jobPath(id)}/artifacts`), 'artifacts'),
  artifactPath: (id: string, name: string) => `${jobPath(id)}/artifacts/${encodeURIComponent(name)}`,
  videoPath: (id: string) => `${jobPath(id)}/video`,
  /** Signed URLs of the job's video and artifacts (a <video> cannot send the key). */
  mediaLinks: (id: string) => json<MediaLinks>(`${jobPath(id)}/media-links`, { method: 'POST' }),
  cancel: (id: string) => json<unknown>(`${jobPath(id)}/cancel`, { method: 'POST' }),
  retry: (id: string) => json<unknown>(`${jobPath(id)}/retry`, { method: 'POST' }),
  deleteJob: (id: string) => json<{ status: 'deleted' | 'deleting' }>(jobPath(id), { method: 'DELETE' }),
  pipelines: async () => listOf<PipelineInfo>(await json<unknown>('/v1/pipelines'), 'pipelines'),
  workers: async () => listOf<WorkerInfo>(await json<unknown>('/v1/workers'), 'workers'),
  deadLetters: async () => listOf<DeadLetter>(await json<unknown>('/v1/dead-letters'), 'dead_letters'),
  system: () => json<SystemView>('/v1/system'),
};

/**
 * A same-origin file (thumbnail, artifact) fetched with the API key and handed out as an object
 * URL, since an <img> cannot send an Authorization header. The caller revokes it.
 */
export async function fetchObjectUrl(path: string): Promise<string> {
  const res = await apiFetch(path, { headers: { Accept: '*/*' } });
  return URL.createObjectURL(await res.blob());
}
