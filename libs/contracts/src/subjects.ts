/**
 * The subject scheme of the event log: each job has its own subject tree, `<ns>.job.<jobId>.>`,
 * with a subject per role:
 *
 *   <ns>.job.<jobId>.submitted.<priority>
 *                                the job's work requests: its submission (VideoSubmitted), then a
 *                                JobRedriven per redrive. The priority (high, normal, low) is the
 *                                last token, so workers can drain each priority through its own consumer.
 *   <ns>.job.<jobId>.lifecycle   everything a worker or operator appends later (JobStarted ...
 *                                JobDeleted)
 *   <ns>.job.<jobId>.split       a split job's JobSplit per attempt that split it (issue #19)
 *   <ns>.job.<jobId>.parts.<priority>
 *                                a split job's work requests: a PartRequested per part, then its
 *                                JoinRequested; the workers' consumer of that priority delivers them
 *   <ns>.job.<jobId>.part.<index>
 *                                the events of one part (PartStarted ... PartCompleted or PartFailed)
 *
 * Every append, on either subject, expects the sequence of the job's last message on any subject of
 * its tree (`Nats-Expected-Last-Subject-Sequence` with `Nats-Expected-Last-Subject-Sequence-Subject:
 * <ns>.job.<jobId>.>`, nats-server 2.11 and later): 0 for the submission, so a job is submitted once
 * whatever the priority; so of two appends decided from the same history (two terminal events, a
 * redrive and a deletion, a claim and a second submission) exactly one is stored. nats-server 2.9
 * checked the sequence on the message's own subject only, which is why the roles have subjects of
 * their own (docs/adr/0002-job-concurrency-check.md); the split now only serves the consumers.
 *
 * Workers filter `<ns>.job.*.submitted.<priority>` and see only work; the projector and replay read `<ns>.job.>`
 * in stream order. Request/reply queries live under `<ns>.rpc.` and never touch the stream.
 * Security broadcasts (a revoked API key) go on core NATS under `<ns>.auth.`, outside the stream too,
 * and so do nudges to the workers (a cancel of a running job) under `<ns>.control.`.
 *
 * The server's MAX_DELIVERIES advisories about any consumer of the event stream,
 * `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.<NS>_EVENTS.<consumer>`, are captured by a second,
 * small stream `<NS>_ADVISORIES`, so that none is missed while the jobs service is down.
 */
import { JOB_PRIORITIES, type JobPriority } from './events/job-events.js';

const NAMESPACE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

export type SubjectRole = 'submitted' | 'lifecycle' | 'split' | 'parts' | 'part';

export interface JobSubjects {
  readonly namespace: string;
  /** The JetStream stream that holds every job event. */
  readonly streamName: string;
  /** The stream's subject filter. */
  readonly all: string;
  /** Every work request, whatever its priority. */
  readonly allSubmitted: string;
  /** Every job's lifecycle subject (what the webhook fan-out reads). */
  readonly allLifecycle: string;
  /** The work requests of one priority: what that priority's worker consumer filters on. */
  submittedWith(priority: JobPriority): string;
  /** The parts' and joins' work requests of one priority: the same consumer filters on these too. */
  partWorkWith(priority: JobPriority): string;
  /** Every part and join work request, whatever its priority (the workers' doorbell). */
  readonly allPartWork: string;
  /** A split job's JobSplit events. */
  split(jobId: string): string;
  /** A split job's part and join work requests at its priority. */
  partWork(jobId: string, priority: JobPriority): string;
  /** The events of one part of a split job. */
  part(jobId: string, index: number): string;
  /** The stream that captures the server's MAX_DELIVERIES advisories about the event stream. */
  readonly advisoryStreamName: string;
  /** The advisory subject for every consumer of the event stream. */
  readonly maxDeliveriesAdvisories: string;
  /** The Object Store bucket for uploads and artifacts. */
  readonly videoBucket: string;
  /** The KV bucket where workers announce themselves with a TTL. */
  readonly workersBucket: string;
  /** The KV bucket of resumable (tus) uploads' state: length, offset, metadata, tenant, expiry, job. */
  readonly uploadsBucket: string;
  /** The KV bucket of resumable uploads' locks (one writer per upload across gateways), with a TTL. */
  readonly uploadLocksBucket: string;
  submitted(jobId: string, priority: JobPriority): string;
  /** Every work request of one job, whatever its priority. */
  submittedOfJob(jobId: string): string;
  lifecycle(jobId: string): string;
  /** Every subject of one job: for reading its whole history, and what every append's expected sequence is checked on. */
  ofJob(jobId: string): string;
  /** The request/reply subject of a query pattern such as `jobs.get`. */
  rpc(pattern: string): string;
  rpcPrefix: string;
  /** Core NATS broadcast: an API key was revoked; every gateway drops it from its cache. */
  readonly keyRevoked: string;
  /**
   * Core NATS broadcast: a cancel of a running job was stored (JobCancelRequested); the worker that
   * runs it stops it at once. Only a nudge: the stored event is what counts, and a worker that missed
   * the nudge finds the request at its next append or heartbeat.
   */
  readonly cancelRequested: string;
  /** Parses an event subject back into its job id and role, or null if it is not one. */
  parse(subject: string): { jobId: string; role: SubjectRole; priority: JobPriority | null; index?: number } | null;
}

export function isValidNamespace(ns: string): boolean {
  return NAMESPACE_PATTERN.test(ns);
}

export function jobSubjects(namespace: string): JobSubjects {
  if (!isValidNamespace(namespace)) {
    throw new Error(`invalid namespace "${namespace}": use 1-32 of a-z, 0-9, _ and -, starting with a letter`);
  }
  const prefix = `${namespace}.job`;
  return {
    namespace,
    streamName: `${namespace.toUpperCase()}_EVENTS`,
    all: `${prefix}.>`,
    allSubmitted: `${prefix}.*.submitted.*`,
    allLifecycle: `${prefix}.*.lifecycle`,
    advisoryStreamName: `${namespace.toUpperCase()}_ADVISORIES`,
    maxDeliveriesAdvisories: `$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${namespace.toUpperCase()}_EVENTS.*`,
    submittedWith: (priority) => `${prefix}.*.submitted.${priorityToken(priority)}`,
    partWorkWith: (priority) => `${prefix}.*.parts.${priorityToken(priority)}`,
    allPartWork: `${prefix}.*.parts.*`,
    split: (jobId) => `${prefix}.${token(jobId)}.split`,
    partWork: (jobId, priority) => `${prefix}.${token(jobId)}.parts.${priorityToken(priority)}`,
    part: (jobId, index) => `${prefix}.${token(jobId)}.part.${partToken(index)}`,
    videoBucket: `${namespace}_videos`,
    workersBucket: `${namespace}_workers`,
    uploadsBucket: `${namespace}_uploads`,
    uploadLocksBucket: `${namespace}_upload_locks`,
    submitted: (jobId, priority) => `${prefix}.${token(jobId)}.submitted.${priorityToken(priority)}`,
    submittedOfJob: (jobId) => `${prefix}.${token(jobId)}.submitted.*`,
    lifecycle: (jobId) => `${prefix}.${token(jobId)}.lifecycle`,
    ofJob: (jobId) => `${prefix}.${token(jobId)}.>`,
    rpcPrefix: `${namespace}.rpc`,
    rpc: (pattern) => `${namespace}.rpc.${pattern}`,
    keyRevoked: `${namespace}.auth.keys.revoked`,
    cancelRequested: `${namespace}.control.cancel`,
    parse(subject) {
      const parts = subject.split('.');
      if (parts[0] !== namespace || parts[1] !== 'job' || !parts[2]) return null;
      if (parts.length === 4 && parts[3] === 'lifecycle') return { jobId: parts[2], role: 'lifecycle', priority: null };
      if (parts.length === 4 && parts[3] === 'split') return { jobId: parts[2], role: 'split', priority: null };
      const priority = parts[4] as JobPriority;
      if (parts.length === 5 && (parts[3] === 'submitted' || parts[3] === 'parts') && JOB_PRIORITIES.includes(priority)) {
        return { jobId: parts[2], role: parts[3], priority };
      }
      if (parts.length === 5 && parts[3] === 'part' && /^(0|[1-9][0-9]{0,5})$/.test(parts[4]!)) {
        return { jobId: parts[2], role: 'part', priority: null, index: Number(parts[4]) };
      }
      return null;
    },
  };
}

function token(jobId: string): string {
  if (jobId.length === 0 || /[\s.*>]/.test(jobId)) {
    throw new Error(`job id "${jobId}" cannot be a subject token`);
  }
  return jobId;
}

function partToken(index: number): string {
  if (!Number.isSafeInteger(index) || index < 0) throw new Error(`"${String(index)}" is not a part index`);
  return String(index);
}

function priorityToken(priority: JobPriority): string {
  if (!JOB_PRIORITIES.includes(priority)) throw new Error(`"${String(priority)}" is not a priority`);
  return priority;
}
