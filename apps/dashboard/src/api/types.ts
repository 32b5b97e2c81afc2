/**
 * The shapes the dashboard reads. Routes that exist in this repository take their types from the
 * contracts; the others are written here as the dashboard expects them from the issues that add
 * them (#4: pipelines, artifacts, video, workers; #5: cancel, retry, dead letters).
 */
import type { JobChange, JobView, StoredEventView, SystemView } from '@app/contracts';

export type { JobChange, JobView, StoredEventView, SystemView };

/** Every status a job can show, including `cancelled` (issue #5). */
export const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const;
export type Status = (typeof STATUSES)[number];

export interface JobsPage {
  jobs: JobView[];
  next_cursor: string | null;
}

export interface EventsPage {
  job_id: string;
  events: StoredEventView[];
  next_after_seq: number | null;
}

/** GET /v1/pipelines (issue #4). */
export interface PipelineInfo {
  name: string;
  description: string;
  tools?: Array<{ name: string; version: string; description?: string }>;
}

/** GET /v1/workers (issue #4): workers that heartbeat into the registry. */
export interface WorkerInfo {
  worker_id: string;
  host: string;
  pid: number;
  concurrency: number;
  in_flight: string[];
  pipelines: string[];
  started_at: string;
  last_heartbeat: string;
}

/** GET /v1/jobs/{id}/artifacts (issue #4). */
export interface ArtifactInfo {
  name: string;
  size: number;
  content_type: string;
}

/** One entry of GET /v1/dead-letters (issue #5). */
export interface DeadLetter {
  job_id: string;
  pipeline?: string;
  error?: { code: string; message: string } | null;
  attempts?: number;
  failed_at?: string;
}

/** Lists may come as `{<name>: [...]}`, as `{items: [...]}` or as a bare array. */
export function listOf<T>(body: unknown, key: string): T[] {
  if (Array.isArray(body)) return body as T[];
  if (body && typeof body === 'object') {
    const record = body as Record<string, unknown>;
    if (Array.isArray(record[key])) return record[key] as T[];
    if (Array.isArray(record['items'])) return record['items'] as T[];
  }
  return [];
}
