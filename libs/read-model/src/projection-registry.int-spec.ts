import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { EntityManager } from 'typeorm';
import { freshSchema, type TestSchema } from '../../../test/support/services.js';
import { migrateModelSchema } from './model-schema.js';
import { openReadModel, type ReadModel } from './open-read-model.js';
import { ProjectionSwitchError } from './projection-registry.js';
import { adoptStreamIdentity, readModelStream } from './stream-identity.js';

describe('ProjectionRegistry against PostgreSQL', () => {
  let db: TestSchema;
  let model: ReadModel | null = null;

  beforeAll(async () => {
    db = await freshSchema();
  });
  afterAll(async () => {
    await model?.close();
    await db.drop();
  });

  const schemas = async () =>
    (await db.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1 ORDER BY nspname`, [`${db.schema}\\_v%`])).map((r) => r['nspname'] as string);

  it('adopts the tables of a read model from before versions, with their rows, as version 1', async () => {
    // The layout of earlier releases: the jobs table and checkpoint right in the home schema.
    await migrateModelSchema(db.url, db.schema);
    await db.query(
      `INSERT INTO jobs (job_id, status, tenant, priority, pipeline, params, video, progress, attempts, created_at, updated_at, correlation_id, last_seq)
       VALUES ('0193a6f0-0000-7000-8000-000000000001', 'completed', 'default', 'normal', 'probe', '{}', '{}', 100, 1, now(), now(), 'c', 7)`,
    );
    await db.query(`INSERT INTO projection_checkpoints (name, last_seq, updated_at) VALUES ('jobs', 7, now())`);

    model = await openReadModel({ url: db.url, schema: db.schema, version: 3 });
    const active = await model.registry.active();
    expect(active).toMatchObject({ version: 1, previousSchema: null });
    expect(await schemas()).toEqual([active.schema]);
    // The home schema now shows the adopted model through views, rows and checkpoint intact.
    const kinds = await db.query(`SELECT relname, relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE nspname = $1 AND relname IN ('jobs', 'projection_checkpoints', 'parked_events') ORDER BY relname`, [db.schema]);
    expect(kinds).toEqual([
      { relname: 'jobs', relkind: 'v' },
      { relname: 'parked_events', relkind: 'v' },
      { relname: 'projection_checkpoints', relkind: 'v' },
    ]);
    expect(await db.query(`SELECT job_id, status, last_seq FROM jobs`)).toEqual([{ job_id: '0193a6f0-0000-7000-8000-000000000001', status: 'completed', last_seq: '7' }]);
    expect(await db.query(`SELECT last_seq FROM projection_checkpoints`)).toEqual([{ last_seq: '7' }]);
  });

  it('drops model schemas nobody uses at the next start, and keeps the active one and recorded builds', async () => {
    const active = await model!.registry.active();
    const orphan = model!.registry.newModelSchemaName(1);
    await migrateModelSchema(db.url, orphan);
    const kept = await model!.registry.whileHolding(model!.registry.buildLockKey('x'), async () => model!.registry.createBuild(3, 'upgrade'));
    await model!.close();
    model = await openReadModel({ url: db.url, schema: db.schema, version: 3 });
    expect(await schemas()).toEqual([active.schema, kept!.value].sort());
  });

  it('refuses to switch to an older version, to the same model, or across versions for a swap', async () => {
    const registry = model!.registry;
    const active = await registry.active();
    const older = await registry.createBuild(0, 'replay');
    const noCatchUp = async () => undefined;
    await expect(registry.switchTo(older, 0, noCatchUp)).rejects.toBeInstanceOf(ProjectionSwitchError);
    await expect(registry.switchTo(active.schema, 1, noCatchUp)).rejects.toThrow(/already the active model/);
    const newer = await registry.createBuild(2, 'replay');
    await expect(registry.switchTo(newer, 2, noCatchUp, { sameVersion: true })).rejects.toThrow(/version 1, the rebuilt one is version 2/);
    // A build short of the live checkpoint that the catch-up does not bring up is refused too.
    await expect(registry.switchTo(newer, 2, noCatchUp)).rejects.toThrow(/short of the live checkpoint 7/);
    expect(await registry.active()).toMatchObject({ schema: active.schema, version: 1 });
    await registry.dropBuild(older);
    await registry.dropBuild(newer);
  });

  it('switches between models of different streams only to a sequence of the new stream, never to the old checkpoint', async () => {
    const registry = model!.registry;
    const active = await registry.active();
    const old = { stream: 'FW_EVENTS', created: '2026-12-01T10:00:00.123456789Z' };
    const fresh = { stream: 'FW_EVENTS', created: '2026-12-04T08:30:00.987654321Z' };
    // The adopted model (checkpoint 7) records the old stream; a rebuild records the new one.
    expect(await adoptStreamIdentity(model!.ds, active.schema, old)).toEqual({ checkpoint: 7, identity: old });
    expect(await adoptStreamIdentity(model!.ds, active.schema, fresh)).toEqual({ checkpoint: 7, identity: old });
    const rebuilt = await registry.createBuild(1, 'upgrade');
    expect(await adoptStreamIdentity(model!.ds, rebuilt, fresh)).toEqual({ checkpoint: 0, identity: fresh });

    let caughtUp: number[] = [];
    const catchUp = async (tx: EntityManager, schema: string, fromSeq: number, throughSeq: number) => {
      caughtUp = [fromSeq, throughSeq];
      await tx.query(`UPDATE "${schema}".projection_checkpoints SET last_seq = $1`, [throughSeq]);
    };
    // Brought to the live checkpoint (7, a position in the old stream), it would skip the new stream's first events.
    await expect(registry.switchTo(rebuilt, 1, catchUp)).rejects.toThrow(/projected from FW_EVENTS created 2026-12-04.*the active model from FW_EVENTS created 2026-12-01/);
    expect(caughtUp).toEqual([]);
    const switched = await registry.switchTo(rebuilt, 1, catchUp, { throughSeq: 3 });
    expect(caughtUp).toEqual([1, 3]);
    expect(switched).toMatchObject({ checkpoint: 3, from: { schema: active.schema }, to: { schema: rebuilt, previousSchema: active.schema } });
    expect(await readModelStream(model!.ds, rebuilt)).toEqual({ checkpoint: 3, identity: fresh });
    expect(await db.query(`SELECT last_seq, stream_created FROM projection_checkpoints`)).toEqual([{ last_seq: '3', stream_created: fresh.created }]);
  });
});
