import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { JobEvent } from '@app/contracts';
import { jobCompleted, jobFailed, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { freshSchema, type TestSchema } from '../../../test/support/services.js';
import { createReadModelDataSource, READ_MODEL_MIGRATIONS } from './data-source.js';
import { migrateModelSchema } from './model-schema.js';
import { ProjectionGapError, ProjectionWriter, schemaTarget, type ProjectionItem, type ProjectionTarget } from './projection.writer.js';

describe('ProjectionWriter against PostgreSQL', () => {
  let db: TestSchema;
  let ds: DataSource;

  beforeAll(async () => {
    db = await freshSchema();
    await migrateModelSchema(db.url, db.schema);
    ds = await createReadModelDataSource({ url: db.url, schema: db.schema }).initialize();
  });
  beforeEach(async () => {
    await db.query(`TRUNCATE jobs, projection_checkpoints, parked_events`);
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
    expect(first).toEqual({ lastSeq: 3, applied: 3, duplicates: 0, rows: 1, parked: [] });
    const before = await rows();
    expect(before).toHaveLength(1);
    expect(before[0]).toMatchObject({ status: 'completed', last_seq: '3', attempts: 1 });

    const second = await w.apply(items, 1, 3);
    expect(second).toEqual({ lastSeq: 3, applied: 0, duplicates: 3, rows: 0, parked: [] });
    expect(await rows()).toEqual(before);
    expect(await w.checkpoint()).toBe(3);
  });

  it('applies overlapping batches as if each event came once, with or without its job cache', async () => {
    const items = history();
    await writer().apply(items, 1, 3);
    const expected = await rows();

    for (const options of [{}, { cacheJobs: 10, startsEmpty: true }, { cacheJobs: 1 }]) {
      await db.query(`TRUNCATE jobs, projection_checkpoints, parked_events`);
      const overlapping = writer(options);
      await overlapping.apply(items.slice(0, 2), 1, 2);
      await overlapping.apply(items.slice(1), 2, 3);
      expect(await rows()).toEqual(expected);
    }
  });

  it('writes a batch of more rows than one statement takes, and its checkpoint, in one transaction', async () => {
    const items = Array.from({ length: 1201 }, (_, i) => ({ seq: i + 1, event: videoSubmitted() }));
    expect(await writer().apply(items, 1, 1201)).toEqual({ lastSeq: 1201, applied: 1201, duplicates: 0, rows: 1201, parked: [] });
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
    expect(result).toEqual({ lastSeq: 3, applied: 2, duplicates: 0, rows: 1, parked: [] });
    expect((await rows())[0]).toMatchObject({ status: 'running', last_seq: '3' });
  });

  it('folds the events of one job whose ids differ only in case into its one row (a uuid is case-blind)', async () => {
    const submitted = videoSubmitted();
    const started = { ...jobStarted(submitted), jobId: submitted.jobId.toUpperCase() };
    const w = writer();
    // In one batch, and across batches (the row read back has the id in lower case).
    const result = await w.apply([{ seq: 1, event: submitted }, { seq: 2, event: started }], 1, 2);
    expect(result).toMatchObject({ lastSeq: 2, parked: [] });
    await w.apply([{ seq: 3, event: { ...jobCompleted(started), jobId: submitted.jobId.toUpperCase() } }], 3, 3);
    expect(await rows()).toMatchObject([{ job_id: submitted.jobId, status: 'completed', last_seq: '3' }]);
    // Two submissions of one job in one batch (only a raw publish makes that): one row, the first wins.
    const again = videoSubmitted();
    const twice = { ...videoSubmitted(again.jobId.toUpperCase()), data: { ...again.data, pipeline: 'noop' } };
    expect(await w.apply([{ seq: 4, event: again }, { seq: 5, event: twice }], 4, 5)).toMatchObject({ lastSeq: 5, parked: [] });
    expect((await rows()).find((row) => row['job_id'] === again.jobId)).toMatchObject({ pipeline: 'probe', last_seq: '5' });
  });

  describe('an event whose row cannot be written', () => {
    const parked = () => db.query(`SELECT seq::int, job_id, event_id, event_type, event_version, error_code, error_message FROM parked_events ORDER BY seq`);
    /** Valid by its schema, refused by PostgreSQL: there is no year 0 in a timestamptz. */
    const yearZero = (event: JobEvent): JobEvent => ({ ...event, occurredAt: '0000-01-01T00:00:00Z' });

    /**
     * Three jobs and a poison event in the middle of one batch: `a` runs and completes around it,
     * `b`'s submission is the poison, `c` comes after it.
     */
    function poisonedBatch() {
      const a = videoSubmitted();
      const aStarted = jobStarted(a);
      const b = yearZero(videoSubmitted());
      const c = videoSubmitted();
      const items = [a, aStarted, b, c, jobCompleted(aStarted)].map((event, i) => ({ seq: i + 1, event }));
      return { a, b, c, items };
    }

    it.each([
      ['alone', {}],
      ['with a job cache, as a rebuild writes', { cacheJobs: 10, startsEmpty: true }],
    ])('is parked, %s: the other events of the batch are written and the checkpoint moves past it', async (_how, options) => {
      const { a, b, c, items } = poisonedBatch();
      const result = await writer(options).apply(items, 1, 5);
      expect(result).toMatchObject({ lastSeq: 5, applied: 4, duplicates: 0, parked: [{ seq: 3, jobId: b.jobId, eventId: b.eventId, type: 'VideoSubmitted', code: '22008' }] });
      expect((await rows()).map((row) => [row['job_id'], row['status'], row['last_seq']]).sort()).toEqual(
        [[a.jobId, 'completed', '5'], [c.jobId, 'queued', '4']].sort(),
      );
      expect(await parked()).toEqual([
        { seq: 3, job_id: b.jobId, event_id: b.eventId, event_type: 'VideoSubmitted', event_version: 2, error_code: '22008', error_message: expect.stringMatching(/out of range/) },
      ]);
      expect(await writer().checkpoint()).toBe(5);
    });

    it('parks a later event of a job: the row keeps what came before, and the next events fold onto that', async () => {
      const submitted = videoSubmitted();
      const started = jobStarted(submitted);
      const tooLong = { ...jobCompleted(started), data: { ...jobCompleted(started).data, durationMs: 2 ** 40 } } as JobEvent; // duration_ms is an integer column
      const failed = jobFailed(started, 1, true, 'TOOL_FAILED');
      const w = writer();
      await w.apply([submitted, started].map((event, i) => ({ seq: i + 1, event })), 1, 2);
      const result = await w.apply([{ seq: 3, event: tooLong }, { seq: 4, event: failed }], 3, 4);
      expect(result.parked).toMatchObject([{ seq: 3, type: 'JobCompleted', code: '22003' }]);
      expect((await rows())[0]).toMatchObject({ status: 'failed', duration_ms: null, last_seq: '4', error: { code: 'TOOL_FAILED' } });
    });

    it('parks an event whose fold throws, with the exception as its error', async () => {
      const submitted = videoSubmitted();
      const broken = { ...jobStarted(submitted), occurredAt: 'not a time' } as JobEvent;
      const next = videoSubmitted();
      const result = await writer().apply([submitted, broken, next].map((event, i) => ({ seq: i + 1, event })), 1, 3);
      expect(result.parked).toMatchObject([{ seq: 2, type: 'JobStarted', code: 'EVOLVE_FAILED', message: expect.stringMatching(/RangeError: Invalid time value/) }]);
      expect((await rows()).map((row) => row['status'])).toEqual(expect.arrayContaining(['queued', 'queued']));
      expect(await rows()).toHaveLength(2);
    });

    it('parks inside a transaction the caller owns (a switch, a verify), leaving the rest of it alone', async () => {
      const { b, items } = poisonedBatch();
      const w = writer();
      await ds.transaction(async (tx) => {
        await tx.query(`CREATE TEMPORARY TABLE marker (x int) ON COMMIT DROP`);
        await tx.query(`INSERT INTO marker VALUES (1)`);
        const result = await w.applyIn(tx, items, 1, 5);
        expect(result.parked.map((p) => p.jobId)).toEqual([b.jobId]);
        // The caller's own work before the batch is still there.
        expect(await tx.query(`SELECT x FROM marker`)).toEqual([{ x: 1 }]);
      });
      expect(await rows()).toHaveLength(2);
      expect((await parked()).map((p) => p['seq'])).toEqual([3]);
    });

    it('parks several poison events of one batch, each on its own', async () => {
      const events = Array.from({ length: 40 }, (_, i) => (i % 13 === 5 ? yearZero(videoSubmitted()) : videoSubmitted()));
      const result = await writer().apply(events.map((event, i) => ({ seq: i + 1, event })), 1, 40);
      expect(result.parked.map((p) => p.seq)).toEqual([6, 19, 32]);
      expect(result.applied).toBe(37);
      expect(await rows()).toHaveLength(37);
    });

    it('parks nothing when PostgreSQL fails for its own reasons (the connection dies): the batch fails and is retried whole', async () => {
      const { items } = poisonedBatch();
      let kill = true;
      const dying: ProjectionTarget = {
        lock: async (tx) => {
          if (kill) await tx.query(`SELECT pg_terminate_backend(pg_backend_pid())`);
          return db.schema;
        },
        current: async () => db.schema,
      };
      const w = new ProjectionWriter(ds, dying);
      await expect(w.apply(items, 1, 5)).rejects.toThrow();
      expect(await parked()).toEqual([]);
      expect(await rows()).toEqual([]);
      expect(await writer().checkpoint()).toBe(0);
      kill = false;
      expect((await w.apply(items, 1, 5)).parked.map((p) => p.seq)).toEqual([3]);
    });
  });
});
