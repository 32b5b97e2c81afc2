import { Injectable } from '@nestjs/common';
import { BlobStore } from '@app/blob-store';
import type { JobState } from '@app/job-state';

/** Where a job's objects live in the bucket, by job: its upload, stored results and artifacts. */
export const jobObjectPrefixes = (jobId: string) => [`uploads/${jobId}/`, `results/${jobId}/`, `artifacts/${jobId}/`];

/**
 * Removes a job's objects from the Object Store: the upload, every stored result and the artifacts
 * the job's state points at. Idempotent: an object already gone counts for nothing, so a deletion
 * that is retried (after a crash, or by a second request) finishes what the first began. Objects
 * nothing points at (an attempt that crashed after writing artifacts) are left to the storage sweep,
 * which removes every object of a deleted job.
 */
@Injectable()
export class JobObjectsService {
  constructor(private readonly blobs: BlobStore) {}

  /** Deletes the objects of `state`; returns how many there were. */
  async remove(state: Pick<JobState, 'jobId' | 'video' | 'resultRef' | 'artifacts' | 'attempts'>): Promise<number> {
    let removed = 0;
    for (const name of objectNamesOf(state)) {
      if (await this.blobs.delete(name)) removed += 1;
    }
    return removed;
  }
}

/** The names a job's state knows of, plus the stored result each of its attempts may have written. */
export function objectNamesOf(state: Pick<JobState, 'jobId' | 'video' | 'resultRef' | 'artifacts' | 'attempts'>): string[] {
  const names = new Set<string>([state.video.objectName]);
  if (state.resultRef) names.add(state.resultRef.objectName);
  for (const artifact of state.artifacts) names.add(artifact.objectName);
  for (let attempt = 1; attempt <= state.attempts; attempt++) names.add(`results/${state.jobId}/${attempt}.json`);
  return [...names];
}
