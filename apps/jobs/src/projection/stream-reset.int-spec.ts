import { Writable } from 'node:stream';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { Test } from '@nestjs/testing';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { Logger as PinoNestLogger } from 'nestjs-pino';
import { pino } from 'pino';
import { firstValueFrom } from 'rxjs';
import { JobQuery, type JobScope, type ListJobsReply } from '@app/contracts';
import { jobsEnvSchema, parseConfig } from '@app/config';
import { ensureEventStream, EventStore } from '@app/event-store';
import { NamespacedNatsServer } from '@app/rpc';
import { OpsListener } from '@app/observability';
import { ProjectionRegistry } from '@app/read-model';
import { jobCompleted, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { eventually, freshNamespace, freshSchema, IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../../../../test/support/services.js';
import { JobsModule } from '../jobs.module.js';

/**
 * The stream under the read model is not the one it was projected from: NATS lost its data, or the
 * stream was deleted and made again, while PostgreSQL kept the model. Its sequences start again at 1,
 * below the checkpoint, and without a check every new job would be skipped as already projected (or,
 * once the new stream passes the old checkpoint, folded onto rows of another stream). The jobs
 * service must notice, say so (one error line, /health/ready), leave the old model alone, rebuild a
 * model from the new stream and switch to it, keeping the old one as the previous model.
 */
describe('a reset of the event stream under the read model', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let client: ClientProxy;
  let sql: pg.Client;
  const running: INestMicroservice[] = [];

  interface LogRecord {
    level: string;
    msg: string;
    [key: string]: unknown;
  }
  // Every jobs service of this file logs (JSON lines, as in production) into one list: nestjs-pino
  // keeps the first logger it is given for the whole process.
  const records: LogRecord[] = [];
  const logger = pino(
    { level: 'info', formatters: { level: (label) => ({ level: label }) } },
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        for (const line of chunk.toString().split('\n')) if (line.trim()) records.push(JSON.parse(line) as LogRecord);
        done();
      },
    }),
  );

  /** The jobs service in-process; `logs()` gives what it has logged since it was started. */
  async function startJobs(): Promise<{
    app: INestMicroservice;
    logs: () => LogRecord[];
    ready: () => Promise<{ status: number; body: any }>;
    metrics: () => Promise<string>;
  }> {
    const since = records.length;
    const config = parseConfig(jobsEnvSchema, {
      ...IN_PROCESS_OPS,
      NATS_URL: TEST_NATS_URL,
      DATABASE_URL: db.url,
      DATABASE_SCHEMA: db.schema,
      FRAMEWIRE_NAMESPACE: ns.namespace,
      PROJECTOR_BATCH_SIZE: '20',
      PROJECTION_UPGRADE_POLL_MS: '200',
    });
    const moduleRef = await Test.createTestingModule({ imports: [JobsModule.forRoot(config, logger)] }).compile();
    const app = moduleRef.createNestMicroservice({
      strategy: new NamespacedNatsServer(ns.subjects.rpcPrefix, { servers: [TEST_NATS_URL], queue: 'framewire-jobs' }),
      logger: false,
    });
    // As main.ts does: Nest's loggers write through pino.
    app.useLogger(app.get(PinoNestLogger));
    await app.listen();
    running.push(app);
    const port = app.get(OpsListener).port;
    const ready = async () => {
      const res = await fetch(`http://127.0.0.1:${port}/health/ready`);
      return { status: res.status, body: await res.json() };
    };
    const metrics = async () => (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    return { app, logs: () => records.slice(since), ready, metrics };
  }

  async function stopJobs(app: INestMicroservice): Promise<void> {
    await app.close();
    running.splice(running.indexOf(app), 1);
  }

  /** Appends `n` completed jobs (three events each); resolves with their ids and the last sequence. */
  async function completedJobs(n: number): Promise<{ ids: string[]; lastSeq: number }> {
    const ids: string[] = [];
    let lastSeq = 0;
    for (let i = 0; i < n; i++) {
      const submitted = videoSubmitted();
      const s = await store.append(submitted, 0);
      const started = jobStarted(submitted);
      const { seq } = await store.append(started, s.seq);
      lastSeq = (await store.append(jobCompleted(started), seq)).seq;
      ids.push(submitted.jobId);
    }
    return { ids, lastSeq };
  }

  const ALL: JobScope = { kind: 'all' };
  /** The job list as GET /v1/jobs gets it: the jobs service's list query, every page. */
  async function listed(): Promise<Array<{ job_id: string; status: string }>> {
    const jobs: Array<{ job_id: string; status: string }> = [];
    let cursor: string | undefined;
    do {
      const reply = await firstValueFrom(client.send<ListJobsReply>(ns.subjects.rpc(JobQuery.List), { scope: ALL, limit: 100, cursor }));
      if (!reply.ok) throw new Error(reply.error.message);
      jobs.push(...reply.value.jobs.map((j) => ({ job_id: j.job_id, status: j.status })));
      cursor = reply.value.next_cursor ?? undefined;
    } while (cursor);
    return jobs;
  }
  const listedIds = async () => (await listed()).map((j) => j.job_id).sort();

  const registry = async () => (await db.query(`SELECT active_schema, previous_schema, active_version FROM projection_registry`))[0]!;
  const checkpointOf = async (schema: string) => Number((await db.query(`SELECT last_seq FROM "${schema}".projection_checkpoints`))[0]?.['last_seq'] ?? 0);
  const projectedThrough = (seq: number) =>
    eventually(async () => (Number((await db.query(`SELECT last_seq FROM projection_checkpoints`))[0]?.['last_seq'] ?? 0) >= seq ? true : undefined), 20_000, `projection through ${seq}`);
  const streamCreated = async () => (await (await jetstreamManager(ns.nc)).streams.info(ns.subjects.streamName)).created;
  const mismatchLines = (logs: LogRecord[]) => logs.filter((r) => r.level === 'error' && /not the one the read model was projected from/.test(r.msg));

  beforeAll(async () => {
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [TEST_NATS_URL] } });
    await client.connect();
  });
  afterAll(() => client.close());
  beforeEach(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });
  afterEach(async () => {
    for (const app of running.splice(0)) await app.close();
    await sql.end();
    await ns.cleanup();
    await db.drop();
  });

  it('notices a stream deleted under the running service, keeps the old model untouched while it rebuilds, then switches', async () => {
    const jobs = await startJobs();
    const old = await completedJobs(6);
    await projectedThrough(old.lastSeq);
    const before = await registry();
    const oldCreated = await streamCreated();
    expect((await jobs.ready()).status).toBe(200);

    // Hold the rebuild back (as another instance building would), so that the time in between can be looked at.
    const lockKey = jobs.app.get(ProjectionRegistry).rebuildLockKey(before['active_version']);
    await sql.query(`SELECT pg_advisory_lock(hashtext($1))`, [lockKey]);

    await (await jetstreamManager(ns.nc)).streams.delete(ns.subjects.streamName);
    // The jobs service owns the stream: it makes it again by itself.
    const newCreated = await eventually(async () => streamCreated().catch(() => undefined), 20_000, 'the stream to be made again');
    expect(newCreated).not.toBe(oldCreated);
    const fresh = await completedJobs(2);
    expect(fresh.lastSeq).toBeLessThan(old.lastSeq);

    // One clear line: the stored and the found identity, and the checkpoint.
    const line = await eventually(async () => mismatchLines(jobs.logs())[0], 20_000, 'the mismatch log line');
    expect(line).toMatchObject({
      stored: { stream: ns.subjects.streamName, created: oldCreated },
      found: { stream: ns.subjects.streamName, created: newCreated },
      checkpoint: old.lastSeq,
    });
    // Readiness says so, by name, for as long as the rebuild has not switched.
    const unready = await eventually(async () => {
      const r = await jobs.ready();
      return r.status === 503 ? r : undefined;
    }, 10_000, '/health/ready to answer 503');
    expect(unready.body.checks.stream).toMatchObject({ status: 'down', error: expect.stringMatching(/rebuild/) });
    expect(unready.body.checks.nats.status).toBe('up');
    // Of the new stream the read model reflects nothing yet: the lag counts all of it.
    const lagOfWholeStream = new RegExp(`^framewire_projector_lag(\\{[^}]*\\})? ${fresh.lastSeq}$`, 'm');
    await eventually(async () => (lagOfWholeStream.test(await jobs.metrics()) ? true : undefined), 10_000, 'the lag to count the new stream');

    // Meanwhile the old model keeps serving, and nothing of the new stream is written into it.
    await new Promise((resolve) => setTimeout(resolve, 500));
    expect(await listedIds()).toEqual([...old.ids].sort());
    expect(await checkpointOf(before['active_schema'])).toBe(old.lastSeq);
    expect(mismatchLines(jobs.logs())).toHaveLength(1);

    await sql.query(`SELECT pg_advisory_unlock(hashtext($1))`, [lockKey]);
    await eventually(async () => ((await listedIds()).join() === [...fresh.ids].sort().join() ? true : undefined), 30_000, 'the new jobs, and only them, in the list');
    expect((await listed()).map((j) => j.status)).toEqual(['completed', 'completed']);
    const after = await registry();
    expect(after['active_schema']).not.toBe(before['active_schema']);
    expect(after['previous_schema']).toBe(before['active_schema']);
    // The old model is kept as it was.
    expect((await db.query(`SELECT count(*)::int AS n FROM "${before['active_schema']}".jobs`))[0]!['n']).toBe(6);
    expect(await checkpointOf(before['active_schema'])).toBe(old.lastSeq);
    await eventually(async () => ((await jobs.ready()).status === 200 ? true : undefined), 10_000, '/health/ready to answer 200 again');

    // The live projection goes on in the new model.
    const later = await completedJobs(1);
    await projectedThrough(later.lastSeq);
    expect(await listedIds()).toEqual([...fresh.ids, ...later.ids].sort());
    expect(mismatchLines(jobs.logs())).toHaveLength(1);
  }, 90_000);

  it('notices at start a stream made again and refilled past the checkpoint, where only its identity tells', async () => {
    const first = await startJobs();
    const old = await completedJobs(4);
    await projectedThrough(old.lastSeq);
    const before = await registry();
    const oldCreated = await streamCreated();
    await stopJobs(first.app);

    // NATS reset while the jobs service was down, and the new stream already longer than the checkpoint.
    await (await jetstreamManager(ns.nc)).streams.delete(ns.subjects.streamName);
    await ensureEventStream(ns.nc, ns.subjects);
    const fresh = await completedJobs(6);
    expect(fresh.lastSeq).toBeGreaterThan(old.lastSeq);
    const newCreated = await streamCreated();

    const second = await startJobs();
    const line = await eventually(async () => mismatchLines(second.logs())[0], 20_000, 'the mismatch log line');
    expect(line).toMatchObject({ stored: { created: oldCreated }, found: { created: newCreated }, checkpoint: old.lastSeq });
    await eventually(async () => ((await registry())['active_schema'] !== before['active_schema'] ? true : undefined), 30_000, 'the switch');
    expect((await registry())['previous_schema']).toBe(before['active_schema']);
    expect(await listed()).toEqual(expect.arrayContaining(fresh.ids.map((id) => ({ job_id: id, status: 'completed' }))));
    expect(await listedIds()).toEqual([...fresh.ids].sort());
    expect((await db.query(`SELECT count(*)::int AS n FROM "${before['active_schema']}".jobs`))[0]!['n']).toBe(4);

    // A restart on the same model and stream finds nothing to say.
    await stopJobs(second.app);
    const third = await startJobs();
    const later = await completedJobs(1);
    await projectedThrough(later.lastSeq);
    expect(await listedIds()).toEqual([...fresh.ids, ...later.ids].sort());
    expect(mismatchLines(third.logs())).toEqual([]);
    expect((await third.ready()).status).toBe(200);
  }, 90_000);
});
