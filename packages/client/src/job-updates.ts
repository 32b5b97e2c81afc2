import { EventSource } from 'eventsource';
import { FramewireError, errorFromResponse } from './errors.js';
import type { components } from './generated/openapi.js';

type JobStatus = components['schemas']['Job']['status'];

/** A running job's progress, as a `progress` event of GET /v1/jobs/{id}/stream carries it. */
export interface JobProgress {
  job_id: string;
  status: 'running';
  attempt: number;
  percent: number;
  current_frame: number;
  total_frames: number | null;
  current_tool: string | null;
  tools_completed: number;
  tools_total: number;
}

/** A job's state, as a `status` event (and each ending) of GET /v1/jobs/{id}/stream carries it. */
export interface JobStatusUpdate {
  job_id: string;
  status: JobStatus;
  attempt: number;
  worker_id: string | null;
  error: components['schemas']['Job']['error'];
  progress: JobProgress | null;
}

/**
 * One event of a job's live stream (Server-Sent Events, GET /v1/jobs/{id}/stream; the document
 * describes the stream in words, an SSE body being a string to OpenAPI): `status` first, then
 * `status` and `progress`, and at last one ending, after which nothing more comes. `seq` is the
 * stream sequence the update reflects.
 */
export type JobUpdate =
  | { kind: 'status'; seq: number; data: JobStatusUpdate }
  | { kind: 'progress'; seq: number; data: JobProgress }
  | { kind: 'completed' | 'failed' | 'cancelled'; seq: number; data: JobStatusUpdate }
  /** The job was deleted while followed. */
  | { kind: 'deleted'; seq: number; data: { job_id: string } };

const KINDS = ['status', 'progress', 'completed', 'failed', 'cancelled', 'deleted'] as const;
const ENDINGS = new Set<JobUpdate['kind']>(['completed', 'failed', 'cancelled', 'deleted']);

export const isEnding = (update: JobUpdate): boolean => ENDINGS.has(update.kind);

export interface StreamSource {
  url: string;
  headers: Record<string, string>;
  fetch: typeof fetch;
}

/**
 * The updates of one job's stream, until its ending, as an async iterator. The `eventsource`
 * package reconnects after a dropped connection with Last-Event-ID, so nothing is missed or
 * repeated; a refusal (401, 404, 429 TOO_MANY_STREAMS) or the stream's own `error` event ends the
 * iteration with a FramewireError. Breaking out of the loop (or `signal`) closes the stream.
 */
export async function* jobUpdates(source: StreamSource, signal?: AbortSignal): AsyncGenerator<JobUpdate> {
  const queue: Array<JobUpdate | FramewireError | null> = [];
  let wake: (() => void) | null = null;
  const push = (item: JobUpdate | FramewireError | null) => {
    queue.push(item);
    wake?.();
  };
  const es = new EventSource(source.url, {
    fetch: async (input, init) => {
      const res = await source.fetch(input, { ...init, headers: { ...(init?.headers ?? {}), ...source.headers } });
      if (!res.ok) push(await errorFromResponse(res.clone()));
      // 204: the job had ended before this (re)connection; EventSource stops, and so do we.
      else if (res.status === 204) push(null);
      return res;
    },
  });
  for (const kind of KINDS) es.addEventListener(kind, (event) => push({ kind, seq: Number(event.lastEventId), data: JSON.parse(event.data) } as JobUpdate));
  // Both a connection's failure (no data) and the stream's own `event: error` (STREAM_FAILED, with data).
  es.addEventListener('error', (event) => {
    const data = (event as MessageEvent).data as string | undefined;
    if (typeof data === 'string') {
      const body = JSON.parse(data) as { error: { code: string; message: string } };
      push(new FramewireError(200, body.error.code, body.error.message));
    } else if (es.readyState === EventSource.CLOSED) push(new FramewireError(0, 'UNREACHABLE', `the stream ${source.url} closed`));
  });
  const abort = () => push(null);
  signal?.addEventListener('abort', abort);
  try {
    for (;;) {
      if (queue.length === 0) await new Promise<void>((resolve) => (wake = resolve));
      wake = null;
      const item = queue.shift()!;
      if (item === null) return;
      if (item instanceof FramewireError) throw item;
      yield item;
      if (isEnding(item)) return;
    }
  } finally {
    signal?.removeEventListener('abort', abort);
    es.close();
  }
}
