import type {
  CancelOutcome,
  DashboardSettings,
  DeadLettersPage,
  DeleteOutcome,
  ErrorBody,
  ErrorCode,
  JobArtifacts,
  JobEventsPage,
  JobMediaLinks,
  JobsPage,
  JobView,
  PipelinesResponse,
  RedriveOutcome,
  SystemView,
  UpdateWebhookBody,
  WebhookDeliveriesPage,
  WebhookDeliveryView,
  WebhookEndpointView,
  WebhookEventType,
  WebhookReplayOutcome,
  WebhookWithSecret,
  WorkersResponse,
} from '@app/contracts';
import { createFramewireClient, FramewireError, type FramewireClient, type ListJobsQuery } from '@framewire/client';
import { authHeaders } from './api-key';

/**
 * The code of an ApiError: the API's own, or the dashboard's when there is no API answer to read
 * (the gateway did not answer, the upload was aborted, a body that is not the API's: `HTTP_<status>`).
 */
export type ApiErrorCode = ErrorCode | 'NETWORK' | 'ABORTED' | `HTTP_${number}`;

/** An error answer of the API, with its stable code; or a network failure (code NETWORK). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: ApiErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * The error that an answer with `status` and parsed body `body` means: the API's code when the body
 * is the API's error; otherwise (a proxy's page, say) UNAUTHENTICATED for a 401, as the gateway says
 * it, and `HTTP_<status>` for any other status.
 */
export function apiErrorOf(status: number, body: unknown, fallbackMessage: string): ApiError {
  const error = (body as Partial<ErrorBody> | null)?.error;
  const code: ApiErrorCode = error?.code ?? (status === 401 ? 'UNAUTHENTICATED' : `HTTP_${status}`);
  return new ApiError(status, code, error?.message || fallbackMessage);
}

/** Reads `{"error":{"code","message"}}` from a failed response, whatever else it holds. */
export async function errorOf(res: Response): Promise<ApiError> {
  const body: unknown = await res.json().catch(() => null); // not JSON: the status line stands
  return apiErrorOf(res.status, body, res.statusText || `HTTP ${res.status}`);
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
const webhookPath = (id: string) => `/v1/webhooks/${encodeURIComponent(id)}`;

/** A request with a JSON body. */
const send = (method: 'POST' | 'PATCH', body: unknown): RequestInit => ({ method, headers: { 'Content-Type': 'application/json' }, body: JSON.stringify(body) });

/**
 * The job calls go through @framewire/client, typed by the OpenAPI document, on this origin; the key
 * is read at each request, since the operator may change it at any time.
 */
let client: FramewireClient | null = null;
const framewire = (): FramewireClient =>
  (client ??= createFramewireClient({
    baseUrl: location.origin,
    fetch: (input, init) => {
      const request = new Request(input, init);
      for (const [name, value] of Object.entries(authHeaders())) request.headers.set(name, value);
      return fetch(request);
    },
  }));

/** A client call, its refusal as an ApiError like every other call's (a gateway that did not answer: NETWORK). */
async function viaClient<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (error) {
    if (!(error instanceof FramewireError)) throw error;
    throw new ApiError(error.status, error.code === 'UNREACHABLE' ? 'NETWORK' : (error.code as ApiErrorCode), error.message);
  }
}

// The casts to the contracts' JobView: the document's Job says `result` is any JSON value in words
// (its schema is recursive, which OpenAPI generators cannot unfold), so its type is `unknown`.
export const api = {
  listJobs: (filter: { status?: string; pipeline?: string; limit: number; cursor?: string | null }) =>
    viaClient(
      framewire().listJobs({
        limit: filter.limit,
        ...(filter.status ? { status: filter.status as NonNullable<ListJobsQuery['status']> } : {}),
        ...(filter.pipeline ? { pipeline: filter.pipeline } : {}),
        ...(filter.cursor ? { cursor: filter.cursor } : {}),
      }),
    ) as Promise<JobsPage>,
  getJob: (id: string) => viaClient(framewire().getJob(id)) as Promise<JobView>,
  jobEvents: (id: string, afterSeq = 0) => json<JobEventsPage>(`${jobPath(id)}/events${q({ after_seq: afterSeq, limit: 1000 })}`),
  jobResult: (id: string) => json<unknown>(`${jobPath(id)}/result`),
  artifacts: async (id: string) => (await json<JobArtifacts>(`${jobPath(id)}/artifacts`)).artifacts,
  artifactPath: (id: string, name: string) => `${jobPath(id)}/artifacts/${encodeURIComponent(name)}`,
  videoPath: (id: string) => `${jobPath(id)}/video`,
  /** Signed URLs of the job's video and artifacts (a <video> cannot send the key). */
  mediaLinks: (id: string) => json<JobMediaLinks>(`${jobPath(id)}/media-links`, { method: 'POST' }),
  cancel: (id: string): Promise<CancelOutcome> => viaClient(framewire().cancel(id)),
  retry: (id: string): Promise<RedriveOutcome> => viaClient(framewire().redrive(id)),
  deleteJob: (id: string): Promise<DeleteOutcome> => viaClient(framewire().deleteJob(id)),
  pipelines: async () => (await json<PipelinesResponse>('/v1/pipelines')).pipelines,
  workers: async () => (await json<WorkersResponse>('/v1/workers')).workers,
  deadLetters: async () => (await json<DeadLettersPage>('/v1/dead-letters')).dead_letters,
  system: () => json<SystemView>('/v1/system'),
  dashboardSettings: () => json<DashboardSettings>('/v1/dashboard/settings'),
  webhooks: async () => (await json<{ webhooks: WebhookEndpointView[] }>('/v1/webhooks')).webhooks,
  /** The answer holds the endpoint's signing secret: the only time the API shows it. */
  createWebhook: (body: { url: string; events?: WebhookEventType[]; description?: string; tenant?: string }) => json<WebhookWithSecret>('/v1/webhooks', send('POST', body)),
  updateWebhook: (id: string, body: UpdateWebhookBody) => json<WebhookEndpointView>(webhookPath(id), send('PATCH', body)),
  deleteWebhook: (id: string) => json<{ id: string; deleted: true }>(webhookPath(id), { method: 'DELETE' }),
  rotateWebhookSecret: (id: string) => json<WebhookWithSecret>(`${webhookPath(id)}/rotate-secret`, { method: 'POST' }),
  webhookDeliveries: (id: string, page: { limit?: number; cursor?: string | null } = {}) =>
    json<WebhookDeliveriesPage>(`${webhookPath(id)}/deliveries${q({ limit: page.limit, cursor: page.cursor })}`),
  retryDelivery: (id: string, deliveryId: string) => json<WebhookDeliveryView>(`${webhookPath(id)}/deliveries/${encodeURIComponent(deliveryId)}/retry`, { method: 'POST' }),
  replayWebhook: (id: string, from: string) => json<WebhookReplayOutcome>(`${webhookPath(id)}/replay`, send('POST', { from })),
};

/**
 * A same-origin file (thumbnail, artifact) fetched with the API key and handed out as an object
 * URL, since an <img> cannot send an Authorization header. The caller revokes it.
 */
export async function fetchObjectUrl(path: string): Promise<string> {
  const res = await apiFetch(path, { headers: { Accept: '*/*' } });
  return URL.createObjectURL(await res.blob());
}
