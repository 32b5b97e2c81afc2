import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { jobSubjects, type JobSubjects, type VideoSubmitted } from '@app/contracts';
import { ensureEventStream, EventStore } from '@app/event-store';
import { connectNats, type NatsConnection } from '@app/nats';
import { videoSubmitted } from '../../test/support/events.js';
import { spawnService, type AppName, type ServiceProcess } from '../../test/support/processes.js';
import { testKeys } from '../../test/support/keys.js';
import { deleteNamespace, freshName } from '../../test/support/services.js';
import type { BenchContext } from './types.js';

/**
 * Framewire as a user runs it, for a benchmark: the built apps as separate OS processes in a fresh
 * namespace (stream, bucket, consumers) and a fresh PostgreSQL schema, removed afterwards.
 */
export class FramewireUnderTest {
  readonly namespace = freshName('bench');
  readonly schema = freshName('bench_');
  readonly subjects: JobSubjects = jobSubjects(this.namespace);
  private readonly services = new Map<string, ServiceProcess>();
  private pool: pg.Pool | null = null;
  nc!: NatsConnection;
  store!: EventStore;

  constructor(private readonly ctx: BenchContext) {}

  async open(): Promise<this> {
    this.nc = await connectNats(this.ctx.natsUrl, `bench-${this.namespace}`);
    await ensureEventStream(this.nc, this.subjects);
    this.store = new EventStore(this.nc, this.subjects);
    this.pool = new pg.Pool({ connectionString: this.ctx.databaseUrl, max: 2 });
    return this;
  }

  /** Starts one app and waits until it says it is ready. Logs stay at `info`, as a user runs it. */
  async start(name: string, app: AppName, env: Record<string, string> = {}): Promise<ServiceProcess> {
    const profileDir = process.env['BENCH_CPU_PROF_DIR'];
    const profile = profileDir ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`, `--cpu-prof-name=${this.namespace}-${name}.cpuprofile`] : [];
    const service = spawnService(name, app, {
      NATS_URL: this.ctx.natsUrl,
      DATABASE_URL: this.ctx.databaseUrl,
      DATABASE_SCHEMA: this.schema,
      FRAMEWIRE_NAMESPACE: this.namespace,
      ...env,
    }, profile);
    this.services.set(name, service);
    const ready = { jobs: /jobs service ready/, worker: /worker pulling jobs/, gateway: /gateway listening/ }[app];
    await service.waitForLine(ready, 60_000);
    return service;
  }

  async startJobs(env: Record<string, string> = {}): Promise<ServiceProcess> {
    const jobs = await this.start('jobs', 'jobs', env);
    // The schema exists once the service has migrated it; the checkpoint row appears with the first batch.
    await this.waitFor(async () => ((await this.query(`SELECT to_regclass('${this.schema}.projection_checkpoints') AS t`))[0]?.['t'] ? true : undefined), 'the read model schema');
    return jobs;
  }

  /** `Authorization` with a new admin key of this installation (its key store is beside its schema). */
  async adminKey(): Promise<Record<string, string>> {
    const keys = await testKeys(this.schema, this.ctx.databaseUrl);
    try {
      return (await keys.create('default', true, 'bench')).headers;
    } finally {
      await keys.close();
    }
  }

  service(name: string): ServiceProcess | undefined {
    return this.services.get(name);
  }

  async stopService(name: string): Promise<void> {
    await this.services.get(name)?.stop();
    this.services.delete(name);
  }

  async query(sql: string, params: unknown[] = []): Promise<Record<string, unknown>[]> {
    return (await this.pool!.query(sql, params)).rows;
  }

  /** The stream sequence the read model has reached. */
  async checkpoint(): Promise<number> {
    const rows = await this.query(`SELECT max(last_seq) AS seq FROM "${this.schema}".projection_checkpoints`);
    return Number(rows[0]?.['seq'] ?? 0);
  }

  /** Resolves with the hrtime at which the read model first reached `seq`, polling every `everyMs`; rejects once `signal` aborts. */
  async projectedThrough(seq: number, timeoutMs: number, everyMs = 5, signal?: AbortSignal): Promise<bigint> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      signal?.throwIfAborted();
      if ((await this.checkpoint()) >= seq) return process.hrtime.bigint();
      await new Promise((resolve) => setTimeout(resolve, everyMs));
    }
    throw new Error(`the read model did not reach sequence ${seq} within ${timeoutMs} ms (it is at ${await this.checkpoint()})`);
  }

  async waitFor<T>(probe: () => Promise<T | undefined>, what: string, timeoutMs = 30_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    let last: unknown;
    while (Date.now() < deadline) {
      try {
        const value = await probe();
        if (value !== undefined) return value;
      } catch (error) {
        last = error;
      }
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ''}`);
  }

  /** A noop job's first event, as the gateway would publish it (the video reference is never read). */
  noopJob(params: Record<string, unknown> = {}): VideoSubmitted {
    const event = videoSubmitted(randomUUID(), { pipeline: 'noop', params });
    event.occurredAt = new Date().toISOString();
    event.data.video.bucket = this.subjects.videoBucket;
    return event;
  }

  /**
   * Appends `count` noop jobs through the event store, `window` appends in flight at a time. Returns
   * the stream sequence at which every one of them will have ended (3 events per job), assuming that
   * nothing else appends meanwhile.
   */
  async enqueueNoop(count: number, params: Record<string, unknown> = {}, window = 256): Promise<{ lastSubmitted: number; lastEvent: number }> {
    const before = await this.store.lastSeq();
    let lastSubmitted = 0;
    for (let i = 0; i < count; i += window) {
      const acks = await Promise.all(Array.from({ length: Math.min(window, count - i) }, () => this.store.append(this.noopJob(params), 0)));
      lastSubmitted = Math.max(lastSubmitted, ...acks.map((ack) => ack.seq));
    }
    return { lastSubmitted, lastEvent: before + 3 * count };
  }

  async close(): Promise<void> {
    await Promise.all([...this.services.values()].map((service) => service.stop()));
    this.services.clear();
    // The home schema, its read models (<schema>_v<version>_<id>), its key store (<schema>_auth) and its webhooks (<schema>_webhooks).
    const schemas = await this.query(`SELECT nspname FROM pg_namespace WHERE nspname = $1 OR nspname LIKE $2 OR nspname = ANY($3)`, [this.schema, `${this.schema}\\_v%`, [`${this.schema}_auth`, `${this.schema}_webhooks`]]).catch(() => []);
    for (const row of schemas) await this.query(`DROP SCHEMA IF EXISTS "${String(row['nspname'])}" CASCADE`).catch(() => undefined);
    await this.pool?.end();
    if (this.nc) {
      await deleteNamespace(this.nc, this.subjects);
      await this.nc.close();
    }
  }
}
