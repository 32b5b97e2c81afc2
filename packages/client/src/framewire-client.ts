import createClient, { type Client } from 'openapi-fetch';
import { FramewireError, errorFromBody, errorFromResponse, unreachable } from './errors.js';
import type { components, operations, paths } from './generated/openapi.js';
import { isEnding, jobUpdates, type JobUpdate } from './job-updates.js';
import { multipartBody } from './multipart.js';

type Schemas = components['schemas'];
type Json<O extends keyof operations, S extends number> = operations[O]['responses'] extends Record<S, { content: { 'application/json': infer T } }> ? T : never;
type Query<O extends keyof operations> = NonNullable<operations[O]['parameters']['query']>;

export type Job = Schemas['Job'];
export type JobSubmitted = Schemas['JobSubmitted'];
export type JobsPage = Json<'listJobs', 200>;
export type ListJobsQuery = Query<'listJobs'>;
export type CancelOutcome = Schemas['CancelOutcome'];
export type RedriveOutcome = Schemas['RedriveOutcome'];
export type DeleteOutcome = Schemas['DeleteOutcome'];
export type PipelineResult = Schemas['PipelineResult'];
export type WebhookEndpoint = Schemas['WebhookEndpoint'];
export type WebhookEndpointWithSecret = Schemas['WebhookEndpointWithSecret'];
export type CreateWebhook = NonNullable<operations['createWebhook']['requestBody']>['content']['application/json'];
export type UpdateWebhook = NonNullable<operations['updateWebhook']['requestBody']>['content']['application/json'];

export interface FramewireClientOptions {
  /** The gateway, e.g. `http://127.0.0.1:3000` (what `framewire start` prints). */
  baseUrl: string;
  /** An API key (`fwk_…`), sent as `Authorization: Bearer`. */
  apiKey?: string;
  /** A fetch of your own (a proxy agent, a test double); the global one by default. */
  fetch?: typeof fetch;
}

export interface SubmitOptions {
  /** The pipeline to run; the gateway's default (`probe`) when left out. */
  pipeline?: string;
  /** The pipeline's params (sent as JSON). */
  params?: Record<string, unknown>;
  priority?: 'high' | 'normal' | 'low';
  /** A repeat of the same request with the same key returns the same job. */
  idempotencyKey?: string;
  /** The file name the gateway records; a File's own name by default. */
  filename?: string;
  /** Bytes of the request body sent so far, of `total`. Reported where fetch can stream a request body (Node, Deno, Bun). */
  onProgress?: (sent: number, total: number) => void;
  signal?: AbortSignal;
}

export interface WaitOptions {
  /** Each live update until the ending (the first is the job's status when the stream opened). */
  onUpdate?: (update: JobUpdate) => void;
  signal?: AbortSignal;
}

/** The read model trails the event stream by a moment: how often, and how many times, `wait` reads the job for its ending. */
const SETTLE_READS = 50;
const SETTLE_EVERY_MS = 100;
const ENDED = new Set<Job['status']>(['completed', 'failed', 'cancelled']);

/** The client: one object per gateway and key. Create it with createFramewireClient. */
export interface FramewireClient {
  /** Uploads a video as a new job (POST /v1/jobs, multipart, streamed): the job as queued. */
  submit(file: Blob, options?: SubmitOptions): Promise<JobSubmitted>;
  /** One job (GET /v1/jobs/{id}). */
  getJob(jobId: string): Promise<Job>;
  /** A page of jobs, newest first (GET /v1/jobs); pass `next_cursor` back as `cursor`. */
  listJobs(query?: ListJobsQuery): Promise<JobsPage>;
  /** A completed job's result (GET /v1/jobs/{id}/result; 409 JOB_NOT_COMPLETED before). */
  getResult(jobId: string): Promise<PipelineResult>;
  /** The job's live updates until its ending (GET /v1/jobs/{id}/stream): `for await (const update of client.follow(id))`. */
  follow(jobId: string, options?: { signal?: AbortSignal }): AsyncGenerator<JobUpdate>;
  /** Follows the job until it ends, then answers it as GET /v1/jobs/{id} shows it (completed, failed or cancelled). */
  wait(jobId: string, options?: WaitOptions): Promise<Job>;
  /** Cancels a queued or running job (POST /v1/jobs/{id}/cancel). */
  cancel(jobId: string): Promise<CancelOutcome>;
  /** Runs a failed or cancelled job again, as a new attempt (POST /v1/jobs/{id}/retry). */
  redrive(jobId: string): Promise<RedriveOutcome>;
  /** Deletes a job and its media (DELETE /v1/jobs/{id}). */
  deleteJob(jobId: string): Promise<DeleteOutcome>;
  webhooks: {
    create(endpoint: CreateWebhook): Promise<WebhookEndpointWithSecret>;
    list(): Promise<WebhookEndpoint[]>;
    get(id: string): Promise<WebhookEndpoint>;
    update(id: string, change: UpdateWebhook): Promise<WebhookEndpoint>;
    delete(id: string): Promise<{ id: string; deleted: true }>;
    rotateSecret(id: string): Promise<WebhookEndpointWithSecret>;
  };
  /** Every other operation, typed by the OpenAPI document (openapi-fetch): `await call(client.api.GET('/v1/workers'))`. */
  api: Client<paths>;
  baseUrl: string;
  /** The headers every request carries (the key). */
  headers: Record<string, string>;
}

/** What an openapi-fetch call answers: its data, or a FramewireError with the API's code. */
export async function call<T>(request: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  const { data, error, response } = await request;
  if (response.ok) return data as T;
  // openapi-fetch hands over the error body parsed when it is JSON, as text when it is not.
  const text = error === undefined ? '' : typeof error === 'string' ? error : JSON.stringify(error);
  throw errorFromBody(response.status, text, response.statusText);
}

export function createFramewireClient(options: FramewireClientOptions): FramewireClient {
  const baseUrl = options.baseUrl.replace(/\/+$/, '');
  const headers: Record<string, string> = options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {};
  const baseFetch = options.fetch ?? globalThis.fetch;
  // A gateway that does not answer is one error (UNREACHABLE) wherever it happens.
  const reach: typeof fetch = async (input, init) => {
    try {
      return await baseFetch(input, init);
    } catch (error) {
      if ((error as Error)?.name === 'AbortError') throw error;
      throw unreachable(baseUrl, error);
    }
  };
  const api = createClient<paths>({ baseUrl, headers, fetch: (request: Request) => reach(request) });
  const id = (jobId: string) => ({ params: { path: { id: jobId } } });

  const client: FramewireClient = {
    api,
    baseUrl,
    headers,
    submit: (file, submitOptions = {}) => submit(file, submitOptions),
    getJob: (jobId) => call(api.GET('/v1/jobs/{id}', id(jobId))),
    listJobs: (query = {}) => call(api.GET('/v1/jobs', { params: { query } })),
    getResult: (jobId) => call(api.GET('/v1/jobs/{id}/result', id(jobId))),
    follow: (jobId, { signal } = {}) => jobUpdates({ url: `${baseUrl}/v1/jobs/${encodeURIComponent(jobId)}/stream`, headers, fetch: reach }, signal),
    wait: async (jobId, { onUpdate, signal } = {}) => {
      for await (const update of client.follow(jobId, { signal })) {
        onUpdate?.(update);
        if (isEnding(update)) break;
      }
      signal?.throwIfAborted();
      for (let i = 0; ; i++) {
        const job = await client.getJob(jobId);
        if (ENDED.has(job.status) || i >= SETTLE_READS) return job;
        await new Promise((resolve) => setTimeout(resolve, SETTLE_EVERY_MS));
      }
    },
    cancel: (jobId) => call(api.POST('/v1/jobs/{id}/cancel', id(jobId))),
    redrive: (jobId) => call(api.POST('/v1/jobs/{id}/retry', id(jobId))),
    deleteJob: (jobId) => call(api.DELETE('/v1/jobs/{id}', id(jobId))),
    webhooks: {
      create: (endpoint) => call(api.POST('/v1/webhooks', { body: endpoint })),
      list: async () => (await call(api.GET('/v1/webhooks'))).webhooks,
      get: (webhookId) => call(api.GET('/v1/webhooks/{id}', id(webhookId))),
      update: (webhookId, change) => call(api.PATCH('/v1/webhooks/{id}', { ...id(webhookId), body: change })),
      delete: (webhookId) => call(api.DELETE('/v1/webhooks/{id}', id(webhookId))),
      rotateSecret: (webhookId) => call(api.POST('/v1/webhooks/{id}/rotate-secret', id(webhookId))),
    },
  };

  /**
   * POST /v1/jobs as a multipart stream: the fields, then the file read as it is sent. Where fetch
   * streams a request body (Node and the server runtimes), `onProgress` counts the bytes as fetch
   * pulls them; a browser's fetch cannot stream an upload, so there it gets the Blob whole and
   * `onProgress` is called once, at the end.
   */
  async function submit(file: Blob, { pipeline, params, priority, idempotencyKey, filename, onProgress, signal }: SubmitOptions): Promise<JobSubmitted> {
    const fields: Array<[string, string]> = [];
    if (pipeline) fields.push(['pipeline', pipeline]);
    if (params) fields.push(['params', JSON.stringify(params)]);
    if (priority) fields.push(['priority', priority]);
    const body = multipartBody(fields, { name: filename ?? (file as Partial<File>).name ?? 'video', blob: file });
    const streams = typeof (globalThis as { process?: { versions?: { node?: string } } }).process?.versions?.node === 'string';
    const res = await reach(`${baseUrl}/v1/jobs`, {
      method: 'POST',
      headers: {
        ...headers,
        Accept: 'application/json',
        'Content-Type': body.contentType,
        ...(streams ? { 'Content-Length': String(body.length) } : {}),
        ...(idempotencyKey ? { 'Idempotency-Key': idempotencyKey } : {}),
      },
      body: streams ? body.stream(onProgress) : await new Response(body.stream()).blob(),
      ...(streams ? { duplex: 'half' } : {}),
      ...(signal ? { signal } : {}),
    } as RequestInit);
    if (!res.ok) throw await errorFromResponse(res);
    if (!streams) onProgress?.(body.length, body.length);
    return (await res.json()) as JobSubmitted;
  }

  return client;
}

export { FramewireError };
