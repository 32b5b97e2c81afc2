import type { JobStatus } from '@app/contracts';

/** The seeds' status words: a queued job is `pending`. */
export function seedsStatus(status: JobStatus): 'pending' | 'running' | 'completed' | 'failed' {
  return status === 'queued' ? 'pending' : status;
}
