import type { JobStatus } from '@app/contracts';

/** The seeds' status words: a queued job is `pending`; they have no word for cancelled, which ended without a result: `failed`. */
export function seedsStatus(status: JobStatus): 'pending' | 'running' | 'completed' | 'failed' {
  if (status === 'queued') return 'pending';
  if (status === 'cancelled') return 'failed';
  return status;
}
