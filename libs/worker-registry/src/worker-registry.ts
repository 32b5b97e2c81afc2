import { jetstreamManager, type JetStreamManager, type StreamInfo } from '@nats-io/jetstream';
import { Kvm, type KV } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import { workerInfoSchema, type WorkerInfo } from '@app/contracts';
import { isStreamNotFound, streamGone } from '@app/nats';

/** How long an announcement lives without a refresh; a worker refreshes every third of it. */
export const WORKER_TTL_MS = 15_000;

/**
 * The live workers, in a KV bucket whose entries expire (max_age) when a worker stops refreshing
 * them: a SIGKILLed worker disappears by itself within WORKER_TTL_MS. Keys are worker ids.
 */
export class WorkerRegistry {
  private constructor(
    private kv: KV,
    /** For the workers, which own the bucket: makes it again when NATS has lost it. */
    private readonly owner: { create(): Promise<KV>; gone(): Promise<boolean> } | null = null,
  ) {}

  /**
   * Opens (or creates) the bucket with `replicas` copies on a cluster (NATS_STREAM_REPLICAS, like the
   * event stream: with one copy, the death of its node leaves the workers unlisted while jobs go on).
   * An existing bucket with another number of copies is changed to it. `ttlMs` applies only when
   * this call creates it. An announcement that finds the bucket gone (NATS lost its data) makes it again.
   */
  static async open(nc: NatsConnection, bucket: string, options: { ttlMs?: number; replicas?: number } = {}): Promise<WorkerRegistry> {
    const replicas = options.replicas ?? 1;
    const owner = {
      create: async () => {
        const kv = await new Kvm(nc).create(bucket, { ttl: options.ttlMs ?? WORKER_TTL_MS, history: 1, replicas, description: 'Framewire workers (heartbeats)' });
        const jsm = await jetstreamManager(nc);
        if ((await streamInfoSoon(jsm, `KV_${bucket}`)).config.num_replicas !== replicas) await jsm.streams.update(`KV_${bucket}`, { num_replicas: replicas });
        return kv;
      },
      gone: async () => streamGone(await jetstreamManager(nc), `KV_${bucket}`),
    };
    return new WorkerRegistry(await owner.create(), owner);
  }

  /**
   * Reads an existing bucket without creating it (no request to the server until it is used), for
   * services that only list workers. Listing a bucket no worker has created yet gives no workers.
   */
  static async bind(nc: NatsConnection, bucket: string): Promise<WorkerRegistry> {
    return new WorkerRegistry(await new Kvm(nc).open(bucket));
  }

  async announce(info: WorkerInfo): Promise<void> {
    try {
      await this.kv.put(keyOf(info.worker_id), JSON.stringify(info));
    } catch (error) {
      if (!this.owner || !(await this.owner.gone())) throw error;
      this.kv = await this.owner.create();
      await this.kv.put(keyOf(info.worker_id), JSON.stringify(info));
    }
  }

  async remove(workerId: string): Promise<void> {
    await this.kv.delete(keyOf(workerId)).catch(() => undefined);
  }

  /** Workers whose last heartbeat is within the TTL, newest heartbeat first. */
  async list(): Promise<WorkerInfo[]> {
    const keys: string[] = [];
    try {
      for await (const key of await this.kv.keys()) keys.push(key);
    } catch (error) {
      if (isMissingStream(error)) return [];
      throw error;
    }
    const found: WorkerInfo[] = [];
    for (const key of keys) {
      const entry = await this.kv.get(key);
      if (!entry || entry.operation !== 'PUT') continue;
      const parsed = workerInfoSchema.safeParse(safeJson(entry.string()));
      if (parsed.success) found.push(parsed.data);
    }
    return found.sort((a, b) => b.last_heartbeat.localeCompare(a.last_heartbeat));
  }
}

/**
 * The info of a stream that was just made, perhaps by another process: on a cluster it can answer
 * "stream not found" for a moment after its creation returned (seen on 2.15.1 with two workers
 * starting at once), until its group has a leader.
 */
async function streamInfoSoon(jsm: JetStreamManager, stream: string): Promise<StreamInfo> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await jsm.streams.info(stream);
    } catch (error) {
      if (!isStreamNotFound(error) || attempt >= 40) throw error;
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }
}

/** KV keys allow only [-/_=.a-zA-Z0-9]; worker ids may also hold ':' and '@'. */
function keyOf(workerId: string): string {
  return workerId.replace(/[^-/_=.a-zA-Z0-9]/g, (c) => `=${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

function isMissingStream(error: unknown): boolean {
  return error instanceof Error && /stream not found/i.test(error.message);
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}
