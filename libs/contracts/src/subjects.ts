/**
 * The subject scheme of the event log, one exact subject per job aggregate and role, so that
 * `Nats-Expected-Last-Subject-Sequence` is checked by the server (nats-server 2.9 ignores it
 * on wildcard subjects):
 *
 *   <ns>.job.<jobId>.submitted   the job's work requests; the first one is appended with
 *                                expected last subject sequence 0, so a job is submitted once
 *   <ns>.job.<jobId>.lifecycle   everything a worker or operator appends later, each append
 *                                expecting the sequence of the one before, so that exactly one
 *                                terminal event wins a race between two workers
 *
 * Workers filter `<ns>.job.*.submitted` and see only work; the projector and replay read `<ns>.job.>`
 * in stream order. Request/reply queries live under `<ns>.rpc.` and never touch the stream.
 */
const NAMESPACE_PATTERN = /^[a-z][a-z0-9_-]{0,31}$/;

export type SubjectRole = 'submitted' | 'lifecycle';

export interface JobSubjects {
  readonly namespace: string;
  /** The JetStream stream that holds every job event. */
  readonly streamName: string;
  /** The stream's subject filter. */
  readonly all: string;
  /** What the workers' durable consumer filters on. */
  readonly allSubmitted: string;
  /** The Object Store bucket for uploads and artifacts. */
  readonly videoBucket: string;
  submitted(jobId: string): string;
  lifecycle(jobId: string): string;
  /** Every subject of one job, for reading its whole history. */
  ofJob(jobId: string): string;
  /** The request/reply subject of a query pattern such as `jobs.get`. */
  rpc(pattern: string): string;
  rpcPrefix: string;
  /** Parses an event subject back into its job id and role, or null if it is not one. */
  parse(subject: string): { jobId: string; role: SubjectRole } | null;
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
    allSubmitted: `${prefix}.*.submitted`,
    videoBucket: `${namespace}_videos`,
    submitted: (jobId) => `${prefix}.${token(jobId)}.submitted`,
    lifecycle: (jobId) => `${prefix}.${token(jobId)}.lifecycle`,
    ofJob: (jobId) => `${prefix}.${token(jobId)}.*`,
    rpcPrefix: `${namespace}.rpc`,
    rpc: (pattern) => `${namespace}.rpc.${pattern}`,
    parse(subject) {
      const parts = subject.split('.');
      if (parts.length !== 4 || parts[0] !== namespace || parts[1] !== 'job') return null;
      const role = parts[3];
      if (role !== 'submitted' && role !== 'lifecycle') return null;
      return { jobId: parts[2]!, role };
    },
  };
}

function token(jobId: string): string {
  if (jobId.length === 0 || /[\s.*>]/.test(jobId)) {
    throw new Error(`job id "${jobId}" cannot be a subject token`);
  }
  return jobId;
}
