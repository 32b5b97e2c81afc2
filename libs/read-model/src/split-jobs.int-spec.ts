import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { JobEvent } from '@app/contracts';
import { fold, toJobView } from '@app/job-state';
import { jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { jobSplit, partCompleted, partFailed, partProgressed, partRequested, partStarted, splitParts } from '../../../test/support/split-events.js';
import { freshSchema, type TestSchema } from '../../../test/support/services.js';
import { createReadModelDataSource } from './data-source.js';
import { JobReadRepository } from './job-read.repository.js';
import { rawRowToState, type RawJobRow } from './job-row.mapper.js';
import { migrateModelSchema } from './model-schema.js';
import { ProjectionWriter, schemaTarget, type ProjectionItem } from './projection.writer.js';

/**
 * A split job's parts (JobState.split, the `split` column) through the projection into PostgreSQL
 * and back: what the jobs service answers GET /v1/jobs/{id} and the list with, and what a replay reads.
 */
describe('a split job in the read model', () => {
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

  /** A job split in three: part 0 made, part 1 failed once and running again at 40%, part 2 queued. */
  function splitHistory(): { events: JobEvent[]; items: ProjectionItem[] } {
    const submitted = videoSubmitted(undefined, { pipeline: 'transcode', params: { segment_seconds: 60 } });
    const started = jobStarted(submitted, 1, 'worker-split');
    const split = jobSplit(started, splitParts(3));
    const p0 = partStarted(split, { index: 0 }, 'worker-a');
    const p1 = partStarted(split, { index: 1 }, 'worker-b');
    const p1failed = partFailed(p1, { index: 1 }, false, 'worker-b');
    const p1again = partStarted(p1failed, { index: 1, partAttempt: 2 }, 'worker-c');
    const events: JobEvent[] = [
      submitted,
      started,
      split,
      ...split.data.parts.map((part) => partRequested(split, part)),
      p0,
      partProgressed(p0, { index: 0 }, 50),
      partCompleted(p0, { index: 0 }, 'worker-a'),
      p1,
      p1failed,
      p1again,
      partProgressed(p1again, { index: 1, partAttempt: 2 }, 40),
    ];
    return { events, items: events.map((event, i) => ({ seq: i + 1, event })) };
  }

  const expectedParts = [
    { index: 0, start: 0, end: 60, status: 'completed', attempts: 1, worker_id: 'worker-a', progress: 100 },
    { index: 1, start: 60, end: 120, status: 'running', attempts: 2, worker_id: 'worker-c', progress: 40 },
    { index: 2, start: 120, end: null, status: 'queued', attempts: 0, worker_id: null, progress: 0 },
  ];

  it('stores the parts and reads back the state the events fold to, by id, in the list and as a raw row', async () => {
    const { events, items } = splitHistory();
    await new ProjectionWriter(ds, schemaTarget(db.schema)).apply(items, 1, items.length);
    const expected = fold(events)!;
    const jobs = new JobReadRepository(ds);

    const record = await jobs.get(expected.jobId);
    expect(record).toEqual({ state: expected, lastSeq: items.length });
    const view = toJobView(record!.state, record!.lastSeq);
    expect(view.parts).toEqual(expectedParts);
    expect(view).toMatchObject({ status: 'running', progress: 46.7, progress_detail: { percent: 46.7, current_tool: 'parts', tools_completed: 1, tools_total: 3 } });
    expect(view.artifacts.map((a) => a.name)).toEqual(['part-0000.mp4']);

    const page = await jobs.list({ limit: 10 });
    expect(page.jobs.map((r) => toJobView(r.state, r.lastSeq).parts)).toEqual([expectedParts]);

    const [raw] = (await db.query(`SELECT * FROM jobs`)) as RawJobRow[];
    expect(rawRowToState(raw!)).toEqual(expected);
  });

  it('folds part events onto parts read back from PostgreSQL: batches split mid-job, with and without its job cache, give the same row', async () => {
    const { events, items } = splitHistory();
    const whole = new ProjectionWriter(ds, schemaTarget(db.schema));
    await whole.apply(items, 1, items.length);
    const expected = await db.query(`SELECT * FROM jobs`);
    expect(rawRowToState(expected[0] as RawJobRow).split).toEqual(fold(events)!.split);

    for (const options of [{}, { cacheJobs: 1 }, { cacheJobs: 10, startsEmpty: true }]) {
      await db.query(`TRUNCATE jobs, projection_checkpoints, parked_events`);
      const writer = new ProjectionWriter(ds, schemaTarget(db.schema), options);
      // Each batch ends between two part events, so the next one starts from the row's split column.
      for (let from = 1; from <= items.length; from += 4) {
        const to = Math.min(items.length, from + 3);
        await writer.apply(items.slice(from - 1, to), from, to);
      }
      expect(await db.query(`SELECT * FROM jobs`)).toEqual(expected);
    }
  });

  it('stores no parts (a null split) for a job run whole', async () => {
    const submitted = videoSubmitted();
    const items = [submitted, jobStarted(submitted)].map((event, i) => ({ seq: i + 1, event }));
    await new ProjectionWriter(ds, schemaTarget(db.schema)).apply(items, 1, 2);
    expect(await db.query(`SELECT split FROM jobs`)).toEqual([{ split: null }]);
    const record = await new JobReadRepository(ds).get(submitted.jobId);
    expect(toJobView(record!.state, record!.lastSeq).parts).toEqual([]);
  });
});
