import type { ArtifactRef, JobEvent, JobSplit, JoinRequested, PartCompleted, PartFailed, PartProgressed, PartRequested, PartStarted, SplitPartRef } from '@app/contracts';
import { meta } from './events.js';

/** Builders for a split job's events in tests (issue #19), like those in events.ts. */

/** `count` parts of `seconds` each, the last one open-ended (to the end of the video). */
export function splitParts(count: number, seconds = 60): SplitPartRef[] {
  return Array.from({ length: count }, (_, index) => ({ index, start: index * seconds, end: index === count - 1 ? null : (index + 1) * seconds }));
}

export function jobSplit(cause: JobEvent, parts: SplitPartRef[], attempt = 1, kept: number[] = [], splitSeconds = 60): JobSplit {
  return { ...meta(cause.jobId, cause), type: 'JobSplit', version: 1, data: { attempt, splitSeconds, parts, kept } };
}

export function partRequested(cause: JobEvent, part: SplitPartRef, attempt = 1): PartRequested {
  return { ...meta(cause.jobId, cause), type: 'PartRequested', version: 1, data: { attempt, priority: 'normal', part } };
}

export function joinRequested(cause: JobEvent, attempt = 1): JoinRequested {
  return { ...meta(cause.jobId, cause), type: 'JoinRequested', version: 1, data: { attempt, priority: 'normal' } };
}

/** Which part attempt an event is about: the job's attempt, the part's index and the part's own attempt. */
export interface PartAt {
  index: number;
  attempt?: number;
  partAttempt?: number;
}

const at = ({ index, attempt = 1, partAttempt = 1 }: PartAt) => ({ index, attempt, partAttempt });

export function partStarted(cause: JobEvent, part: PartAt, workerId = 'worker-1'): PartStarted {
  return { ...meta(cause.jobId, cause), type: 'PartStarted', version: 1, data: { ...at(part), workerId } };
}

export function partProgressed(cause: JobEvent, part: PartAt, percent: number): PartProgressed {
  return { ...meta(cause.jobId, cause), type: 'PartProgressed', version: 1, data: { ...at(part), percent, currentFrame: Math.round(percent * 10), totalFrames: 1000 } };
}

/** A part's output as an artifact of the job, named as the part's index says. */
export function partArtifact(jobId: string, index: number, attempt = 1): ArtifactRef {
  const name = `part-${String(index).padStart(4, '0')}.mp4`;
  return { name, bucket: 'test_artifacts', objectName: `artifacts/${jobId}/${attempt}/${name}`, size: 1000 + index, contentType: 'video/mp4', sha256: 'c'.repeat(64) };
}

export function partCompleted(cause: JobEvent, part: PartAt, workerId = 'worker-1', artifacts: ArtifactRef[] = [partArtifact(cause.jobId, part.index, part.attempt)]): PartCompleted {
  return { ...meta(cause.jobId, cause), type: 'PartCompleted', version: 1, data: { ...at(part), workerId, durationMs: 42, artifacts } };
}

export function partFailed(cause: JobEvent, part: PartAt, final = false, workerId = 'worker-1', code = 'WORKER_ERROR'): PartFailed {
  return {
    ...meta(cause.jobId, cause),
    type: 'PartFailed',
    version: 1,
    data: { ...at(part), workerId, final, error: { code, message: `part failed with ${code}` }, retryDelayMs: final ? null : 1000 },
  };
}
