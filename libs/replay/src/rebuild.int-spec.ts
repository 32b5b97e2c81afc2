import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream } from '@nats-io/jetstream';
import { headers } from '@nats-io/transport-node';
import type { DataSource } from 'typeorm';
import type { JobEvent } from '@app/contracts';
import { videoSubmitted } from '../../../test/support/events.js';
import { EventStore } from '@app/event-store';
import {
  adoptStreamIdentity,
  createReadModelDataSource,
  openReadModel,
  PROJECTION_VERSION,
  ProjectionSwitchError,
  qualified,
  readCheckpoint,
  readModelStream,
  type ParkedEvent,
} from '@app/read-model';
import { freshName, freshNamespace, freshSchema, type TestNamespace, type TestSchema } from '../../../test/support/services.js';
import { jobViewAsOf } from './job-history.js';
import { catchUpFromStream, rebuildIntoSchema } from './rebuild.js';
import { diffModels } from './verify.js';

/**
 * Old versions in the log: a stream written by v1 code (VideoSubmitted v1 on the old
 * `<ns>.job.<id>.submitted` subject, JobCompleted v1), raw JSON published as that code published it,
 * replays to the same read model as the same history written by today's code.
 */
describe('replaying a stream written by v1 code', () => {
  let v1: TestNamespace;
  let v2: TestNamespace;
  let db: TestSchema;
  let ds: DataSource;

  beforeAll(async () => {
    [v1, v2, db] = await Promise.all([freshNamespace(), freshNamespace(), freshSchema()]);
    ds = await createReadModelDataSource({ url: db.url, schema: db.schema, poolSize: 2 }).initialize();
  });
  afterAll(async () => {
    await ds?.destroy();
    await Promise.all([v1.cleanup(), v2.cleanup(), db.drop()]);
  });

  /** One job's history as v1 code wrote it, and what today's code writes for the same facts. */
  function jobHistory(i: number) {
    const jobId = randomUUID();
    const at = (s: number) => new Date(Date.parse('2026-03-01T10:00:00.000Z') + i * 60_000 + s * 1000).toISOString();
    const meta = (s: number, causationId: string | null) => ({ eventId: randomUUID(), jobId, occurredAt: at(s), correlationId: `req-${i}`, causationId });
    const video = { bucket: 'old_videos', objectName: `uploads/${jobId}/1`, filename: `clip-${i}.mp4`, size: 1000 + i, contentType: 'video/mp4', sha256: 'b'.repeat(64) };
    const submitted = { ...meta(0, null), type: 'VideoSubmitted', version: 1, data: { pipeline: 'probe', params: { n: i }, video } };
    const started = { ...meta(1, submitted.eventId), type: 'JobStarted', version: 1, data: { workerId: `old-worker-${i % 2}`, attempt: 1 } };
    const completed = {
      ...meta(2, started.eventId),
      type: 'JobCompleted',
      version: 1,
      data: { attempt: 1, durationMs: 10 * i, result: { width: 320, height: 240, i }, resultRef: null },
    };
    const v1Events = i % 3 === 0 ? [submitted, started] : [submitted, started, completed];
    const v2Events = v1Events.map((e) => {
      if (e.type === 'VideoSubmitted') return { ...e, version: 2, data: { ...e.data, tenant: 'default', priority: 'normal' } };
      if (e.type === 'JobCompleted') return { ...e, version: 2, data: { ...e.data, artifacts: [] } };
      return e;
    }) as JobEvent[];
    return { jobId, v1Events, v2Events };
  }

  it('rebuilds the same rows, and shows each job the same as of every event', async () => {
    const jobs = Array.from({ length: 12 }, (_, i) => jobHistory(i));
    // v1 code: raw JSON, the submission on `<ns>.job.<id>.submitted`, msgID = event id.
    const js = jetstream(v1.nc);
    for (const job of jobs) {
      for (const event of job.v1Events) {
        const subject = event.type === 'VideoSubmitted' ? `${v1.namespace}.job.${job.jobId}.submitted` : v1.subjects.lifecycle(job.jobId);
        const h = headers();
        h.set('Fw-Event-Type', event.type);
        await js.publish(subject, JSON.stringify(event), { msgID: event.eventId, headers: h });
      }
    }
    // Today's code, the same facts.
    const current = new EventStore(v2.nc, v2.subjects);
    for (const job of jobs) {
      let last = 0;
      for (const event of job.v2Events) last = (await current.append(event, last)).seq;
    }

    const oldSchema = `${db.schema}_old`;
    const newSchema = `${db.schema}_new`;
    const oldStore = new EventStore(v1.nc, v1.subjects);
    const fromOld = await rebuildIntoSchema({ store: oldStore, ds, schema: oldSchema, url: db.url, batchSize: 7 });
    const fromNew = await rebuildIntoSchema({ store: current, ds, schema: newSchema, url: db.url, batchSize: 7 });
    try {
      expect(fromOld).toMatchObject({ messages: 32, malformed: 0, toSeq: 32 });
      expect(fromNew).toMatchObject({ messages: 32, malformed: 0 });
      expect(await diffModels(ds, oldSchema, newSchema)).toEqual([]);
      const rows = await ds.query(`SELECT tenant, priority, status, artifacts FROM ${qualified(oldSchema, 'jobs')} ORDER BY created_at`);
      expect(rows).toHaveLength(12);
      expect(rows[1]).toEqual({ tenant: 'default', priority: 'normal', status: 'completed', artifacts: [] });
      expect(rows[0]).toMatchObject({ status: 'running' });

      for (const job of jobs.slice(0, 3)) {
        for (let n = 1; n <= job.v1Events.length; n++) {
          const before = await jobViewAsOf(oldStore, job.jobId, { kind: 'event', number: n });
          const after = await jobViewAsOf(current, job.jobId, { kind: 'event', number: n });
          expect(before.ok && after.ok).toBe(true);
          if (before.ok && after.ok) expect({ ...before.job, last_seq: 0 }).toEqual({ ...after.job, last_seq: 0 });
        }
      }
    } finally {
      await ds.query(`DROP SCHEMA IF EXISTS "${oldSchema}" CASCADE; DROP SCHEMA IF EXISTS "${newSchema}" CASCADE`);
    }
  });

  it('resumes a rebuild from its checkpoint to the same rows as a rebuild in one go', async () => {
    const store = new EventStore(v2.nc, v2.subjects);
    const whole = freshName(`${db.schema}_w`);
    const parts = freshName(`${db.schema}_p`);
    try {
      await rebuildIntoSchema({ store, ds, schema: whole, url: db.url });
      const first = await rebuildIntoSchema({ store, ds, schema: parts, url: db.url, toSeq: 13 });
      const rest = await rebuildIntoSchema({ store, ds, schema: parts, url: db.url, cacheJobs: 2 });
      expect([first.fromSeq, first.toSeq, rest.fromSeq]).toEqual([1, 13, 14]);
      expect(await diffModels(ds, whole, parts)).toEqual([]);
    } finally {
      await ds.query(`DROP SCHEMA IF EXISTS "${whole}" CASCADE; DROP SCHEMA IF EXISTS "${parts}" CASCADE`);
    }
  });

  it('parks an event whose row cannot be written and rebuilds everything after it', async () => {
    const store = new EventStore(v2.nc, v2.subjects);
    const poison: JobEvent = { ...videoSubmitted(), occurredAt: '0000-01-01T00:00:00Z' }; // no year 0 in a timestamptz
    const { seq: poisonSeq } = await store.append(poison, 0);
    const next = videoSubmitted();
    const { seq: last } = await store.append(next, 0);
    const schema = freshName(`${db.schema}_x`);
    const parked: ParkedEvent[] = [];
    try {
      const stats = await rebuildIntoSchema({ store, ds, schema, url: db.url, batchSize: 7, onParked: (p) => parked.push(p) });
      expect(stats).toMatchObject({ toSeq: last, parked: 1 });
      expect(parked).toMatchObject([{ seq: poisonSeq, jobId: poison.jobId, type: 'VideoSubmitted', code: '22008' }]);
      expect(await ds.query(`SELECT job_id FROM ${qualified(schema, 'jobs')} WHERE job_id = ANY($1)`, [[poison.jobId, next.jobId]])).toEqual([{ job_id: next.jobId }]);
      expect(await readCheckpoint(ds, schema)).toBe(last);
    } finally {
      await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
    }
  });
});

/**
 * `framewire replay` builds a model beside the live one, and `--swap` makes it the live one. Like every
 * model, it must record the stream it folds: the switch refuses a model of another stream than the
 * live one's, and the jobs service checks the active model against the stream at every (re)start.
 */
describe('a replayed model and the stream it folds', () => {
  let live: TestNamespace;
  let other: TestNamespace;
  let db: TestSchema;

  beforeAll(async () => {
    [live, other, db] = await Promise.all([freshNamespace(), freshNamespace(), freshSchema()]);
  });
  afterAll(async () => {
    await Promise.all([live.cleanup(), other.cleanup(), db.drop()]);
  });

  it('records it, so that a swap to a model of another stream is refused', async () => {
    const model = await openReadModel({ url: db.url, schema: db.schema, version: PROJECTION_VERSION });
    try {
      const { registry, ds } = model;
      // The live model: two jobs of its stream, which it records (as the jobs service's projector does).
      const liveStore = new EventStore(live.nc, live.subjects);
      for (let i = 0; i < 2; i++) await liveStore.append(videoSubmitted(), 0);
      const active = await registry.active();
      await adoptStreamIdentity(ds, active.schema, (await liveStore.streamState()).identity);
      await rebuildIntoSchema({ store: liveStore, ds, schema: active.schema });

      // A replay that read another stream (NATS was reset; or the CLI pointed at another server), longer than the live checkpoint.
      const otherStore = new EventStore(other.nc, other.subjects);
      for (let i = 0; i < 3; i++) await otherStore.append(videoSubmitted(), 0);
      const replayed = await registry.createBuild(PROJECTION_VERSION, 'replay');
      const stats = await rebuildIntoSchema({ store: otherStore, ds, schema: replayed });
      expect(stats.toSeq).toBe(3);
      expect(await readModelStream(ds, replayed)).toEqual({ checkpoint: 3, identity: (await otherStore.streamState()).identity });

      // As `replay --swap` switches: refused, and the live model stays.
      await expect(registry.switchTo(replayed, PROJECTION_VERSION, catchUpFromStream(otherStore, ds), { sameVersion: true })).rejects.toThrow(
        ProjectionSwitchError,
      );
      expect((await registry.active()).schema).toBe(active.schema);
      await registry.dropBuild(replayed);
    } finally {
      await model.close();
    }
  });

  it('fails, rather than label a model with one stream and fill it from another, when the stream it resumes is another one', async () => {
    const ds = await createReadModelDataSource({ url: db.url, schema: db.schema, poolSize: 2 }).initialize();
    const schema = freshName(`${db.schema}_r`);
    try {
      const liveStore = new EventStore(live.nc, live.subjects);
      await rebuildIntoSchema({ store: liveStore, ds, schema, url: db.url });
      const otherStore = new EventStore(other.nc, other.subjects);
      await otherStore.append(videoSubmitted(), 0);
      await expect(rebuildIntoSchema({ store: otherStore, ds, schema })).rejects.toThrow(/changed|another stream/);
      expect(await readModelStream(ds, schema)).toMatchObject({ identity: (await liveStore.streamState()).identity });
    } finally {
      await ds.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      await ds.destroy();
    }
  });
});
