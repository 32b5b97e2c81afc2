import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import { jobCancelled, jobCancelRequested, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { freshSchema, type TestSchema } from '../../../test/support/services.js';
import { createReadModelDataSource } from './data-source.js';
import { JobReadRepository } from './job-read.repository.js';
import { migrateModelSchema } from './model-schema.js';
import { ProjectionWriter, schemaTarget } from './projection.writer.js';

describe('JobReadRepository against PostgreSQL', () => {
  let db: TestSchema;
  let ds: DataSource;

  beforeAll(async () => {
    db = await freshSchema();
    await migrateModelSchema(db.url, db.schema);
    ds = await createReadModelDataSource({ url: db.url, schema: db.schema }).initialize();
  });
  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  it('hands out pending deletions of jobs that have ended before those of jobs still running, whatever their ids', async () => {
    // A job still running whose deletion waits for its worker, with the lowest id; and one that has
    // ended since its deletion was asked for, with the highest.
    const running = videoSubmitted('00000000-0000-4000-8000-000000000001');
    const runningStarted = jobStarted(running);
    const ended = videoSubmitted('ffffffff-ffff-4fff-bfff-ffffffffffff');
    const endedStarted = jobStarted(ended);
    const endedRequest = jobCancelRequested(endedStarted, 1, 'key_test', true);
    const events = [running, runningStarted, jobCancelRequested(runningStarted, 1, 'key_test', true), ended, endedStarted, endedRequest, jobCancelled(endedRequest, 1, 'w1')];
    await new ProjectionWriter(ds, schemaTarget(db.schema)).apply(
      events.map((event, i) => ({ seq: i + 1, event })),
      1,
      events.length,
    );
    const jobs = new JobReadRepository(ds);
    expect(await jobs.pendingDeletions(1)).toEqual([ended.jobId]);
    expect(await jobs.pendingDeletions(10)).toEqual([ended.jobId, running.jobId]);
  });
});
