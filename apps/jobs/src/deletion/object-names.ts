/** What an object of the video bucket belongs to, read from its name; null for a name Framewire does not write. */
export type JobObject =
  | { kind: 'upload'; jobId: string }
  | { kind: 'result'; jobId: string; attempt: number }
  | { kind: 'artifact'; jobId: string; attempt: number };

const UUID = '[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}';
const UPLOAD = new RegExp(`^uploads/(${UUID})/[^/]+$`, 'i');
const RESULT = new RegExp(`^results/(${UUID})/([1-9][0-9]{0,8})\\.json$`, 'i');
const ARTIFACT = new RegExp(`^artifacts/(${UUID})/([1-9][0-9]{0,8})/[^/]+$`, 'i');

/** Reads the names the gateway (uploads) and the workers (stored results, artifacts) give objects. */
export function parseObjectName(name: string): JobObject | null {
  let m = UPLOAD.exec(name);
  if (m) return { kind: 'upload', jobId: m[1]!.toLowerCase() };
  m = RESULT.exec(name);
  if (m) return { kind: 'result', jobId: m[1]!.toLowerCase(), attempt: Number(m[2]) };
  m = ARTIFACT.exec(name);
  if (m) return { kind: 'artifact', jobId: m[1]!.toLowerCase(), attempt: Number(m[2]) };
  return null;
}

/** Why the storage sweep removes an object. */
export type GarbageKind = 'deleted-job' | 'unsubmitted-upload' | 'stale-attempt';

/** What the sweep knows of the job an object belongs to. */
export type OwnerState =
  /** The stream has no submission of the job: it never became a job. */
  | { kind: 'unknown' }
  /** Submitted, but not in the read model yet: too early to judge. */
  | { kind: 'not-projected' }
  | { kind: 'known'; state: { deletedAt: string | null; status: string; attempts: number; video: { objectName: string }; resultRef: { objectName: string } | null; artifacts: { objectName: string }[] } };

const ENDED = new Set(['completed', 'failed', 'cancelled']);

/**
 * Whether an object (already older than the grace period) is garbage, and why:
 * - every object of a deleted job (a deletion a crash interrupted, or an attempt that wrote on after it);
 * - an upload whose job was never submitted (the gateway stopped between storing it and appending
 *   VideoSubmitted), or that the job does not use;
 * - a stored result or artifact that the job does not point at, of an attempt that never ended while
 *   the job has moved on (a later attempt started) or ended: a worker that died mid-attempt.
 * Anything else is kept: the current attempt of a job that runs or waits may still use its files.
 */
export function garbageKind(name: string, object: JobObject, owner: OwnerState): GarbageKind | null {
  if (owner.kind === 'not-projected') return null;
  if (owner.kind === 'unknown') return object.kind === 'upload' ? 'unsubmitted-upload' : 'stale-attempt';
  const { state } = owner;
  if (state.deletedAt) return 'deleted-job';
  if (object.kind === 'upload') return name === state.video.objectName ? null : 'unsubmitted-upload';
  if (state.resultRef?.objectName === name || state.artifacts.some((a) => a.objectName === name)) return null;
  // An attempt the read model has not seen start yet (a redrive's) is never judged from older news.
  if (object.attempt > state.attempts) return null;
  return ENDED.has(state.status) || object.attempt < state.attempts ? 'stale-attempt' : null;
}
