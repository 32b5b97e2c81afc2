import { randomUUID } from 'node:crypto';
import { jetstream } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import type { JobCancelled, JobCancelRequested, JobCompleted, JobDeleted, JobEvent, JobFailed, JobProgressed, JobRedriven, JobStarted, VideoSubmitted } from '@app/contracts';

/** Builders for events in tests: a valid event, with only what the test cares about given (split jobs' in split-events.ts). */
let clock = Date.parse('2026-01-01T00:00:00.000Z');
const tick = () => new Date((clock += 1000)).toISOString();

export const meta = (jobId: string, cause: JobEvent | null) => ({
  eventId: randomUUID(),
  jobId,
  occurredAt: tick(),
  correlationId: cause?.correlationId ?? `req-${jobId.slice(0, 8)}`,
  causationId: cause?.eventId ?? null,
});

export function videoSubmitted(jobId: string = randomUUID(), data: Partial<VideoSubmitted['data']> = {}): VideoSubmitted {
  return {
    ...meta(jobId, null),
    type: 'VideoSubmitted',
    version: 2,
    data: {
      pipeline: 'probe',
      params: {},
      tenant: 'default',
      priority: 'normal',
      video: {
        bucket: 'test_videos',
        objectName: `uploads/${jobId}/1`,
        filename: 'clip.mp4',
        size: 1234,
        contentType: 'video/mp4',
        sha256: 'a'.repeat(64),
      },
      ...data,
    },
  };
}

export function jobStarted(cause: JobEvent, attempt = 1, workerId = 'worker-1'): JobStarted {
  return { ...meta(cause.jobId, cause), type: 'JobStarted', version: 1, data: { workerId, attempt } };
}

export function jobCompleted(cause: JobEvent, attempt = 1, result: Record<string, unknown> = { width: 320 }): JobCompleted {
  return {
    ...meta(cause.jobId, cause),
    type: 'JobCompleted',
    version: 2,
    data: { attempt, durationMs: 42, result: result as JobCompleted['data']['result'], resultRef: null, artifacts: [] },
  };
}

export function jobFailed(cause: JobEvent, attempt = 1, final = true, code = 'INVALID_MEDIA'): JobFailed {
  return {
    ...meta(cause.jobId, cause),
    type: 'JobFailed',
    version: 3,
    data: { attempt, final, error: { code, message: `failed with ${code}` }, deadLetter: null, retryDelayMs: final ? null : 1000 },
  };
}

/** The JobFailed that the jobs service appends when the work message's deliveries ran out. */
export function jobDeadLettered(cause: JobEvent, attempt = 1, deliveries = 3, streamSeq = 1): JobFailed {
  return {
    ...meta(cause.jobId, cause),
    type: 'JobFailed',
    version: 3,
    data: {
      attempt,
      final: true,
      error: { code: 'MAX_DELIVERIES', message: `delivered ${deliveries} times without finishing` },
      deadLetter: { reason: 'MAX_DELIVERIES', consumer: 'workers', deliveries, streamSeq },
      retryDelayMs: null,
    },
  };
}

export function jobProgressed(cause: JobEvent, percent: number, attempt = 1, progress: Partial<JobProgressed['data']> = {}): JobProgressed {
  return {
    ...meta(cause.jobId, cause),
    type: 'JobProgressed',
    version: 1,
    data: { attempt, percent, currentFrame: 0, totalFrames: null, currentTool: 'probe', toolsCompleted: 0, toolsTotal: 1, ...progress },
  };
}

export function jobCancelRequested(cause: JobEvent, attempt = 0, requestedBy: string | null = 'key_test', deletion = false): JobCancelRequested {
  return { ...meta(cause.jobId, cause), type: 'JobCancelRequested', version: 2, data: { attempt, reason: null, requestedBy, deletion } };
}

export function jobDeleted(cause: JobEvent, attempt = 0, reason: JobDeleted['data']['reason'] = 'request', requestedBy: string | null = 'key_test'): JobDeleted {
  return { ...meta(cause.jobId, cause), type: 'JobDeleted', version: 1, data: { attempt, reason, requestedBy } };
}

export function jobCancelled(cause: JobEvent, attempt = 0, cancelledBy = 'jobs-service'): JobCancelled {
  return { ...meta(cause.jobId, cause), type: 'JobCancelled', version: 1, data: { attempt, cancelledBy } };
}

/** A redrive of `submitted`'s job, caused by the event that ended it. */
export function jobRedriven(submitted: VideoSubmitted, cause: JobEvent, firstAttempt = 2): JobRedriven {
  const { pipeline, params, video, tenant, priority } = submitted.data;
  return {
    ...meta(submitted.jobId, cause),
    type: 'JobRedriven',
    version: 1,
    data: { pipeline, params, video, tenant, priority, firstAttempt, requestedBy: 'key_test' },
  };
}

/**
 * Appends `event` on `subject` as a release from before clean text would have: raw JSON, past the
 * codec's refusal of ill-formed text, as the first event of that subject. For tests of what such
 * stored events do to today's readers. Returns the stream sequence.
 */
export function publishAsOlderRelease(nc: NatsConnection, subject: string, event: JobEvent): Promise<number> {
  return publishRaw(nc, subject, event, 0);
}

/**
 * Appends after `cause` (stored at `afterSeq`, the job's last event) an event of a type this release
 * does not know, as a newer release would during a rolling upgrade. Returns the stream sequence.
 */
export function publishAsNewerRelease(nc: NatsConnection, subject: string, cause: JobEvent, afterSeq: number, type = 'JobPaused'): Promise<number> {
  const newer = { ...meta(cause.jobId, cause), type, version: 1, data: { attempt: 1 } };
  // Checked over the job's whole subject tree (`<ns>.job.<id>.>`), as this release appends.
  return publishRaw(nc, subject, newer, afterSeq, `${subject.split('.').slice(0, 3).join('.')}.>`);
}

async function publishRaw(nc: NatsConnection, subject: string, event: { eventId: string }, expectLastSeq: number, tree?: string): Promise<number> {
  const ack = await jetstream(nc).publish(subject, new TextEncoder().encode(JSON.stringify(event)), {
    msgID: event.eventId,
    expect: { lastSubjectSequence: expectLastSeq, ...(tree ? { lastSubjectSequenceSubject: tree } : {}) },
  });
  return ack.seq;
}

/**
 * Appends, through `append(event, expectedSeq)`, a job whose first run failed once and waited for its
 * retry, was cancelled and redriven meanwhile, and whose redriven attempt now runs: the history in
 * which the first run's work message comes back from its backoff. Returns the submission's sequence.
 */
export async function redrivenDuringBackoff(append: (event: JobEvent, expectedSeq: number) => Promise<number>, submitted: VideoSubmitted): Promise<number> {
  const submittedSeq = await append(submitted, 0);
  const started = jobStarted(submitted, 1, 'worker-a');
  const failed = jobFailed(started, 1, false, 'WORKER_ERROR');
  const asked = jobCancelRequested(failed, 1);
  const cancelled = jobCancelled(asked, 1);
  let seq = submittedSeq;
  for (const event of [started, failed, asked, cancelled]) seq = await append(event, seq);
  const redriven = jobRedriven(submitted, cancelled, 2);
  const redrivenSeq = await append(redriven, seq);
  await append(jobStarted(redriven, 2, 'worker-b'), redrivenSeq);
  return submittedSeq;
}
