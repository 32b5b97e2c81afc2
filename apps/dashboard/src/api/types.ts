/**
 * The dashboard reads the API's shapes from the contracts (`import type` from '@app/contracts': the
 * bundle takes their types, never their code). What is here is the dashboard's own.
 */
import type { JobStatus, WebhookEventType } from '@app/contracts';

/** Every status a job can show, in the order the filter offers them. */
export const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const satisfies readonly JobStatus[];
export type Status = (typeof STATUSES)[number];

/**
 * The webhook event types, with what each tells, for the form's checkboxes. A Record (not a copy of
 * the contracts' WEBHOOK_EVENT_TYPES, a value the bundle does not take from there), so that a type
 * added there and not here fails the build.
 */
export const WEBHOOK_EVENTS: Record<WebhookEventType, string> = {
  'job.started': 'an attempt started on a worker',
  'job.progress': 'each progress report (many per job)',
  'job.completed': 'the job completed',
  'job.failed': 'the job failed for good (not an attempt that is retried)',
  'job.cancelled': 'the job was cancelled',
};
/** What an endpoint hears when it names no events, as DEFAULT_WEBHOOK_EVENTS: how each job ended. */
export const DEFAULT_EVENTS: readonly WebhookEventType[] = ['job.completed', 'job.failed', 'job.cancelled'];
