import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';

/** Fixed namespace for name-based job ids; changing it would change every idempotent job id. */
const IDEMPOTENT_JOB_NAMESPACE = '5b0f5d3e-4a4f-4c55-9d53-6a0f4b1c2e77';

/** Id generation as a provider. Ids are UUIDv7: unique, and ordered by creation time. */
export abstract class IdGenerator {
  abstract next(): string;
}

export class UuidV7Generator extends IdGenerator {
  next(): string {
    return uuidv7();
  }
}

/**
 * The job id for an `Idempotency-Key`: the same key (within one scope, such as a tenant) always
 * names the same job, so the stream itself refuses a second submission of it, forever.
 */
export function idempotentJobId(scope: string, key: string): string {
  return uuidv5(`${scope}\n${key}`, IDEMPOTENT_JOB_NAMESPACE);
}

/** The event id of the submission of an idempotent job: its Nats-Msg-Id, the same for every retry. */
export function idempotentEventId(jobId: string): string {
  return uuidv5(`VideoSubmitted\n${jobId}`, IDEMPOTENT_JOB_NAMESPACE);
}

/**
 * The event id of the JobFailed that a MAX_DELIVERIES advisory turns into: derived from the
 * advisory's own id, so a redelivered advisory publishes the same Nats-Msg-Id and is stored once.
 */
export function advisoryEventId(advisoryId: string): string {
  return uuidv5(`MaxDeliveriesAdvisory\n${advisoryId}`, IDEMPOTENT_JOB_NAMESPACE);
}
