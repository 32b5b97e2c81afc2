import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import pg from 'pg';
import { firstValueFrom } from 'rxjs';
import { JobQuery, type GetJobReply } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { createReadModelDataSource } from '@app/read-model';
import { diffModels, rebuildIntoSchema } from '@app/replay';
import { jobCompleted, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { eventually, freshNamespace, freshSchema, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../../../../test/support/services.js';
import { jobsTestConfig, startJobsService } from '../../../../test/support/jobs-service.js';

/**
 * A new projection version takes over without downtime: jobs-service instances of version 2 start
 * beside one of version 1; one of them rebuilds version 2 in the background while every read is
 * answered from the complete version-1 model, then all switch at once. Readers poll throughout and
 * must never see a half-built model.
 */
describe('projection version upgrade', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let client: ClientProxy;
  let reader: pg.Client;
  const apps: INestMicroservice[] = [];

  async function startJobs(version: number): Promise<INestMicroservice> {
    const config = jobsTestConfig(ns, db, { PROJECTOR_BATCH_SIZE: '40', PROJECTION_UPGRADE_POLL_MS: '200' });
    const app = await startJobsService(config, ns.subjects, { projectionVersion: version });
    apps.push(app);
    return app;
  }

  /** A completed job: three events. */
  async function completedJob(): Promise<string> {
    const submitted = videoSubmitted();
    const s = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    const { seq } = await store.append(started, s.seq);
    await store.append(jobCompleted(started), seq);
    return submitted.jobId;
  }

  const registry = async () => (await reader.query(`SELECT * FROM projection_registry`)).rows[0] as Record<string, any>;
  const projectedThrough = async (seq: number) => {
    await eventually(async () => {
      const { rows } = await reader.query(`SELECT last_seq FROM projection_checkpoints`);
      return Number(rows[0]?.last_seq ?? 0) >= seq ? true : undefined;
    }, 30_000, `projection through ${seq}`);
  };

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [TEST_NATS_URL] } });
    await client.connect();
    reader = new pg.Client({ connectionString: db.url, options: `-c search_path=${db.schema}` });
    await reader.connect();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await client.close();
    await reader.end();
    await ns.cleanup();
    await db.drop();
  });

  it('rebuilds version 2 in the background and switches every instance at once, never showing a half-built model', async () => {
    await startJobs(1);
    const jobs: string[] = [];
    for (let i = 0; i < 150; i++) jobs.push(await completedJob());
    await projectedThrough(await store.lastSeq());
    const v1 = await registry();
    expect(v1).toMatchObject({ active_version: 1 });

    // Readers, all along: the read model (what the gateway's queries see) always holds every
    // completed job, and a job read over request/reply is always whole.
    let polling = true;
    const samples: Array<{ completed: number; version: number }> = [];
    const poll = (async () => {
      for (let i = 0; polling; i++) {
        const { rows } = await reader.query(
          `SELECT count(*) FILTER (WHERE status = 'completed')::int AS completed, (SELECT active_version FROM projection_registry) AS version FROM jobs`,
        );
        samples.push(rows[0]);
        const reply = await firstValueFrom(client.send<GetJobReply>(ns.subjects.rpc(JobQuery.Get), { job_id: jobs[i % jobs.length], scope: { kind: 'all' } }));
        if (!reply.ok || reply.value.job?.status !== 'completed') throw new Error(`a read saw ${JSON.stringify(reply)}`);
      }
    })();

    // Two instances of version 2 (only one builds), while new events keep coming.
    await Promise.all([startJobs(2), startJobs(2)]);
    for (let i = 0; i < 20; i++) jobs.push(await completedJob());
    await eventually(async () => ((await registry()).active_version === 2 ? true : undefined), 60_000, 'the switch to version 2');
    for (let i = 0; i < 5; i++) jobs.push(await completedJob());
    const last = await store.lastSeq();
    await projectedThrough(last);
    polling = false;
    await poll;

    expect(samples.length).toBeGreaterThan(10);
    expect(samples.filter((s) => s.completed < 150)).toEqual([]);
    expect(new Set(samples.map((s) => s.version))).toEqual(new Set([1, 2]));
    const v2 = await registry();
    expect(v2).toMatchObject({ active_version: 2, previous_schema: v1['active_schema'] });
    const models = await reader.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname`, [`${db.schema}\\_v%`]);
    expect(models.rows.map((r) => r.nspname).sort()).toEqual([v1['active_schema'], v2['active_schema']].sort());
    expect((await reader.query(`SELECT count(*)::int AS n FROM jobs WHERE status = 'completed'`)).rows[0].n).toBe(175);

    // The switched model is exactly what a rebuild from the stream makes.
    const ds = await createReadModelDataSource({ url: db.url, schema: db.schema, poolSize: 2 }).initialize();
    try {
      const check = `${db.schema}_check`;
      await rebuildIntoSchema({ store, ds, schema: check, url: db.url, toSeq: last });
      expect(await diffModels(ds, v2['active_schema'], check)).toEqual([]);
      await ds.query(`DROP SCHEMA "${check}" CASCADE`);
    } finally {
      await ds.destroy();
    }
  }, 120_000);
});

/**
 * Parked events and a new projection version: the upgrade's build tries every event again. One that
 * the new version can write gets its row and no parked entry; one it cannot write is parked in the
 * new model too, and neither stops the build or the switch.
 */
describe('projection version upgrade with parked events', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let reader: pg.Client;
  const apps: INestMicroservice[] = [];

  async function startJobs(version: number): Promise<void> {
    const config = jobsTestConfig(ns, db, { PROJECTOR_BATCH_SIZE: '10', PROJECTION_UPGRADE_POLL_MS: '200' });
    const app = await startJobsService(config, ns.subjects, { projectionVersion: version });
    apps.push(app);
  }
  const query = async (sql: string, params: unknown[] = []) => (await reader.query(sql, params)).rows;
  const projectedThrough = (seq: number) =>
    eventually(async () => (Number((await query(`SELECT last_seq FROM projection_checkpoints`))[0]?.last_seq ?? 0) >= seq ? true : undefined), 30_000, `projection through ${seq}`);

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    reader = new pg.Client({ connectionString: db.url, options: `-c search_path=${db.schema}` });
    await reader.connect();
  });
  afterAll(async () => {
    for (const app of apps) await app.close();
    await reader.end();
    await ns.cleanup();
    await db.drop();
  });

  it('re-projects an event the old model parked and the new one can write, and parks again one that neither can', async () => {
    await startJobs(1);
    await projectedThrough(0);
    const [{ active_schema: v1 }] = await query(`SELECT active_schema FROM projection_registry`);
    // What version 1 "cannot write": a rule of its model that a fixed release no longer has.
    await query(`ALTER TABLE "${v1}".jobs ADD CONSTRAINT version_1_bug CHECK (video->>'filename' <> 'fixed-in-v2.mp4')`);

    const before = await Promise.all(Array.from({ length: 15 }, () => store.append(videoSubmitted(), 0)));
    const fixed = videoSubmitted(undefined, { video: { ...videoSubmitted().data.video, filename: 'fixed-in-v2.mp4' } });
    const { seq: fixedSeq } = await store.append(fixed, 0);
    const never = { ...videoSubmitted(), occurredAt: '0000-01-01T00:00:00Z' }; // no timestamptz has year 0
    const { seq: neverSeq } = await store.append(never, 0);
    const after = await Promise.all(Array.from({ length: 15 }, () => store.append(videoSubmitted(), 0)));
    const last = Math.max(...after.map((a) => a.seq));
    await projectedThrough(last);
    expect(await query(`SELECT seq::int, error_code FROM parked_events ORDER BY seq`)).toEqual([
      { seq: fixedSeq, error_code: '23514' },
      { seq: neverSeq, error_code: '22008' },
    ]);
    expect(before).toHaveLength(15);

    await startJobs(2);
    await eventually(async () => ((await query(`SELECT active_version FROM projection_registry`))[0]?.active_version === 2 ? true : undefined), 60_000, 'the switch to version 2');
    const late = videoSubmitted();
    const { seq: lateSeq } = await store.append(late, 0);
    await projectedThrough(lateSeq);

    // Version 2 wrote the job that version 1 could not, and parked only the event nobody can write.
    expect(await query(`SELECT seq::int, job_id, error_code FROM parked_events`)).toEqual([{ seq: neverSeq, job_id: never.jobId, error_code: '22008' }]);
    expect(await query(`SELECT job_id, status FROM jobs WHERE job_id = ANY($1)`, [[fixed.jobId, never.jobId, late.jobId]])).toEqual(
      expect.arrayContaining([
        { job_id: fixed.jobId, status: 'queued' },
        { job_id: late.jobId, status: 'queued' },
      ]),
    );
    expect(await query(`SELECT count(*)::int AS n FROM jobs`)).toEqual([{ n: 32 }]);
  }, 120_000);
});
