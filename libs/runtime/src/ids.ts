import { v5 as uuidv5, v7 as uuidv7 } from 'uuid';

/** Fixed namespace for name-based job ids; changing it would change every idempotent job id. */
const IDEMPOTENT_JOB_NAMESPACE = '5b0f5d3e-4a4f-4c55-9d53-6a0f4b1c2e77';

/** Id generation as a provider. Ids are UUIDv7: unique, and ordered by creation time. */
export abstract class IdGenerator {
  abstract next(): string;
}

/** Random bytes drawn from the system in one call per this many ids (16 bytes each). */
const RANDOM_POOL_IDS = 256;

/**
 * UUIDv7 (the `uuid` package's layout, monotonic within the process: ids made in the same
 * millisecond count up from a random start). The random bytes come from a pool refilled in one
 * call every RANDOM_POOL_IDS ids: the package's default asks the system for 16 bytes per id,
 * which was ~2% of a no-op job's CPU in the worker, where every event needs an id.
 */
export class UuidV7Generator extends IdGenerator {
  private readonly pool = new Uint8Array(16 * RANDOM_POOL_IDS);
  private used = RANDOM_POOL_IDS;
  private msecs = -Infinity;
  private seq = 0;

  next(): string {
    if (this.used === RANDOM_POOL_IDS) {
      crypto.getRandomValues(this.pool);
      this.used = 0;
    }
    const random = this.pool.subarray(this.used * 16, ++this.used * 16);
    const now = Date.now();
    if (now > this.msecs) {
      this.msecs = now;
      this.seq = ((random[6]! & 0x7f) << 24) | (random[7]! << 16) | (random[8]! << 8) | random[9]!;
    } else {
      // The same millisecond (or the clock stepped back): count up; past the counter's end, borrow a millisecond.
      this.seq = (this.seq + 1) | 0;
      if (this.seq === 0) this.msecs++;
    }
    return uuidv7({ random, msecs: this.msecs, seq: this.seq });
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
