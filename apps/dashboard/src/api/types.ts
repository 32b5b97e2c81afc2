/**
 * The dashboard reads the API's shapes from the contracts (`import type` from '@app/contracts': the
 * bundle takes their types, never their code). What is here is the dashboard's own.
 */
import type { JobStatus } from '@app/contracts';

/** Every status a job can show, in the order the filter offers them. */
export const STATUSES = ['queued', 'running', 'completed', 'failed', 'cancelled'] as const satisfies readonly JobStatus[];
export type Status = (typeof STATUSES)[number];
