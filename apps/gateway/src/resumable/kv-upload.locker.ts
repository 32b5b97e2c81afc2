import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { NatsConnection } from '@nats-io/transport-node';
import { StorageType } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import { ERRORS, type Lock, type Locker, type RequestRelease } from '@tus/utils';
import type { JobSubjects } from '@app/contracts';

/** A lock not refreshed for this long is gone (its holder died): the KV bucket's max_age. */
export const LOCK_TTL_MS = 10_000;
const REFRESH_MS = 2_000;
const RETRY_MS = 100;
/** How long a request waits for a held lock: past the TTL of one whose holder died. */
const WAIT_MS = LOCK_TTL_MS + 5_000;

interface LockValue {
  owner: string;
  /** Set by a request that waits for the lock: the holder is asked to let go (tus's lock contract). */
  wanted?: boolean;
}

/**
 * The tus server's locker across gateways: a lock is a key in a KV bucket, taken with create (only
 * one can make it), kept alive by its holder every REFRESH_MS with a compare-and-set update, and
 * gone after LOCK_TTL_MS without one (a gateway that died holding it). A request that waits for a
 * held lock marks it `wanted`; the holder sees that at its next refresh and is asked to finish, as
 * @tus/server's MemoryLocker asks a holder in the same process (which this one does at once).
 */
export class KvUploadLocker implements Locker {
  /** Locks held by this process, by upload id: their holder's release request. */
  private readonly held = new Map<string, RequestRelease>();

  private constructor(private readonly kv: KV) {}

  static async open(nc: NatsConnection, subjects: JobSubjects, replicas = 1): Promise<KvUploadLocker> {
    const kv = await new Kvm(nc).create(subjects.uploadLocksBucket, { history: 1, ttl: LOCK_TTL_MS, replicas, storage: StorageType.Memory, description: 'Framewire resumable uploads (tus): locks' });
    return new KvUploadLocker(kv);
  }

  newLock(id: string): Lock {
    return new KvUploadLock(this.kv, this.held, id);
  }
}

class KvUploadLock implements Lock {
  private readonly owner = randomBytes(12).toString('hex');
  private refresher: NodeJS.Timeout | null = null;

  constructor(
    private readonly kv: KV,
    private readonly held: Map<string, RequestRelease>,
    private readonly id: string,
  ) {}

  async lock(signal: AbortSignal, requestRelease: RequestRelease): Promise<void> {
    let asked = false;
    const deadline = Date.now() + WAIT_MS;
    for (;;) {
      if (signal.aborted || Date.now() > deadline) throw ERRORS.ERR_LOCK_TIMEOUT;
      try {
        await this.kv.create(this.id, encode({ owner: this.owner }));
        break;
      } catch (error) {
        if (!/wrong last sequence|key exists/i.test(String(error))) throw error;
      }
      if (!asked) {
        asked = true;
        await this.askHolderToRelease();
      }
      await sleep(RETRY_MS, undefined, { signal }).catch(() => undefined);
    }
    this.held.set(this.id, requestRelease);
    this.refresher = setInterval(() => void this.refresh(requestRelease), REFRESH_MS);
    this.refresher.unref();
  }

  async unlock(): Promise<void> {
    if (this.refresher) clearInterval(this.refresher);
    this.refresher = null;
    if (this.held.get(this.id) !== undefined) this.held.delete(this.id);
    // Only our own lock: one that expired and was taken by another request stays theirs. A waiter may
    // have marked it wanted since our last write, hence the read of its current revision.
    for (let attempt = 0; attempt < 3; attempt += 1) {
      try {
        const entry = await this.kv.get(this.id);
        if (!entry || entry.operation !== 'PUT' || decode(entry.value)?.owner !== this.owner) return;
        await this.kv.delete(this.id, { previousSeq: entry.revision });
        return;
      } catch {
        // Changed between the read and the delete: read again.
      }
    }
  }

  private async askHolderToRelease(): Promise<void> {
    const local = this.held.get(this.id);
    if (local) return void (await local());
    const entry = await this.kv.get(this.id).catch(() => null);
    if (!entry || entry.operation !== 'PUT') return;
    const value = decode(entry.value);
    if (value && !value.wanted) await this.kv.update(this.id, encode({ ...value, wanted: true }), entry.revision).catch(() => undefined);
  }

  private async refresh(requestRelease: RequestRelease): Promise<void> {
    try {
      const entry = await this.kv.get(this.id);
      const value = entry?.operation === 'PUT' ? decode(entry.value) : null;
      if (!entry || value?.owner !== this.owner) return; // expired and taken: nothing of ours to keep
      if (value.wanted) await requestRelease();
      await this.kv.update(this.id, encode(value), entry.revision);
    } catch {
      // NATS away for a moment: the next refresh tries again (the TTL leaves five of them).
    }
  }
}

function encode(value: LockValue): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value));
}

function decode(data: Uint8Array): LockValue | null {
  try {
    return JSON.parse(new TextDecoder().decode(data)) as LockValue;
  } catch {
    return null;
  }
}
