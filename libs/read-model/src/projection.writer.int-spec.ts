import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { jobCompleted, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { freshSchema, type TestSchema } from '../../../test/support/services.js';
import { createReadModelDataSource, READ_MODEL_MIGRATIONS } from './data-source.js';
import { migrateModelSchema } from './model-schema.js';
import { ProjectionGapError, ProjectionWriter, schemaTarget, type ProjectionItem } from './projection.writer.js';

describe('ProjectionWriter against PostgreSQL', () => {
  let db: TestSchema;
  let ds: DataSource;

  beforeAll(async () => {
    db = await freshSchema();
    await migrateModelSchema(db.url, db.schema);
    ds = await createReadModelDataSource({ url: db.url, schema: db.schema }).initialize();
  });
  beforeEach(async () => {
    await db.query(`TRUNCATE jobs, projection_checkpoints`);
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  const rows = () => db.query(`SELECT * FROM jobs ORDER BY job_id`);
  const writer = (options = {}) => new ProjectionWriter(ds, schemaTarget(db.schema), options);

  function history(): ProjectionItem[] {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted);
    return [submitted, started, jobCompleted(started)].map((event, i) => ({ seq: i + 1, event }));
  }

  it('runs its migrations idempotently (a second migration changes nothing)', async () => {
    await migrateModelSchema(db.url, db.schema);
    const migrations = await db.query(`SELECT name FROM migrations`);
    expect(migrations.map((m) => m.name)).toEqual(READ_MODEL_MIGRATIONS.map((m) => m.name));
  });

  it('is idempotent by stream sequence: the same events applied twice leave the rows unchanged', async () => {
    const w = writer();
    const items = history();
    const first = await w.apply(items, 1, 3);
    expect(first).toEqual({ lastSeq: 3, applied: 3, duplicates: 0, rows: 1 });
    const before = await rows();
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({ status: 'completed', last_seq: '3', attempts: 1 });

    const second = await w.apply(items, 1, 3);
    expect(second).toEqual({ lastSeq: 3, applied: 0, duplicates: 3, rows: 0 });
    expect(await rows()).toEqual(before);
    expect(await w.checkpoint()).toBe(3);
  });

  it('applies overlapping batches as if each event came once, with or without its job cache', async () => {
    const items = history();
    await writer().apply(items, 1, 3);
    const expected = await rows();

    for (const options of [{}, { cacheJobs: 10, startsEmpty: true }, { cacheJobs: 1 }]) {
      await db.query(`TRUNCATE jobs, projection_checkpoints`);
      const overlapping = writer(options);
      await overlapping.apply(items.slice(0, 2), 1, 2);
      await overlapping.apply(items.slice(1), 2, 3);
      expect(await rows()).toEqual(expected);
    }
  });

  it('writes a batch of more rows than one statement takes, and its checkpoint, in one transaction', async () => {
    const items = Array.from({ length: 1201 }, (_, i) => ({ seq: i + 1, event: videoSubmitted() }));
    expect(await writer().apply(items, 1, 1201)).toEqual({ lastSeq: 1201, applied: 1201, duplicates: 0, rows: 1201 });
    expect(await db.query(`SELECT count(*)::int AS n, max(last_seq)::int AS last FROM jobs`)).toEqual([{ n: 1201, last: 1201 }]);
  });

  it('refuses a batch that starts past the checkpoint, so no event is ever skipped', async () => {
    const w = writer();
    const items = history();
    await expect(w.apply(items.slice(2), 3, 3)).rejects.toBeInstanceOf(ProjectionGapError);
    expect(await w.checkpoint()).toBe(0);
  });

  it('steps over a sequence without an event (a malformed message) and keeps going', async () => {
    const [submitted, started] = history();
    const result = await writer().apply([submitted!, { seq: 2, event: null }, { ...started!, seq: 3 }], 1, 3);
    expect(result).toEqual({ lastSeq: 3, applied: 2, duplicates: 0, rows: 1 });
    expect((await rows())[0]).toMatchObject({ status: 'running', last_seq: '3' });
  });
});
