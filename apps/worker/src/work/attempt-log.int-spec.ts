import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { EventStore } from '@app/event-store';
import { stampNow } from '@app/job-commands';
import { SystemClock, UuidV7Generator } from '@app/runtime';
import { jobCancelled, jobCancelRequested, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { freshNamespace, type TestNamespace } from '../../../../test/support/services.js';
import { AttemptLog, type AttemptEnd } from './attempt-log.js';
import type { ProgressSnapshot } from './progress-tracker.js';

const snapshot = (percent: number, extra: Partial<ProgressSnapshot> = {}): ProgressSnapshot => ({
  percent,
  currentFrame: Math.round(percent),
  totalFrames: 100,
  currentTool: 'thumbnails',
  toolsCompleted: 0,
  toolsTotal: 1,
  ...extra,
});

const completed: AttemptEnd = { kind: 'Complete', result: { durationMs: 42, result: { width: 320 }, resultRef: null, artifacts: [] } };
const stamp = () => stampNow(new SystemClock(), new UuidV7Generator());

/** The progress of one attempt, appended to a real stream. */
describe('attempt log against JetStream', () => {
  let ns: TestNamespace;
  let store: EventStore;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
  });
  afterAll(() => ns.cleanup());

  async function startedJob() {
    const submitted = videoSubmitted();
    const work = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    const { seq } = await store.append(started, work.seq);
    const history = { submission: { seq: work.seq, event: submitted }, lifecycle: { seq, event: started }, latestWork: { seq: work.seq, event: submitted }, last: seq };
    const log = new AttemptLog(store, started, history, stamp, 200);
    return { submitted, started, seq, log };
  }

  const stored = async (jobId: string) =>
    (await store.readJob(jobId)).flatMap((item) => (item.ok ? [{ type: item.stored.event.type, at: item.stored.storedAt.getTime(), data: item.stored.event.data as Record<string, unknown> }] : []));

  it('appends at most one report per interval, the latest one, then the terminal event after the last report', async () => {
    const { started, log } = await startedJob();
    const began = Date.now();
    for (let i = 1; i <= 60; i++) {
      log.progress(snapshot(i));
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    const elapsed = Date.now() - began;
    await log.settle(completed);
    const events = await stored(started.jobId);
    const progress = events.filter((e) => e.type === 'JobProgressed');
    expect(events.at(-1)!.type).toBe('JobCompleted');
    // ~600 ms of reports at a 200 ms interval: a handful of events, never two within the interval.
    expect(progress.length).toBeGreaterThanOrEqual(2);
    expect(progress.length).toBeLessThanOrEqual(Math.ceil(elapsed / 200) + 1);
    const lifecycle = events.filter((e) => e.type !== 'VideoSubmitted');
    for (let i = 1; i < lifecycle.length - 1; i++) expect(lifecycle[i]!.at - lifecycle[i - 1]!.at).toBeGreaterThanOrEqual(150);
    const percents = progress.map((e) => e.data['percent'] as number);
    expect([...percents].sort((a, b) => a - b)).toEqual(percents);
    expect(log.progressAppends).toBe(progress.length);
  });

  it('appends tool boundaries at once, and drops a report that waits when the job ends', async () => {
    const { started, log } = await startedJob();
    log.boundary(snapshot(50, { toolsCompleted: 1, toolsTotal: 2, currentFrame: 0 }));
    log.progress(snapshot(60, { toolsCompleted: 1, toolsTotal: 2 }));
    await log.settle(completed);
    const events = await stored(started.jobId);
    expect(events.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobProgressed', 'JobCompleted']);
    expect(events[2]!.data).toMatchObject({ percent: 50, toolsCompleted: 1 });
  });

  it('lets a worker that lost the job report nothing more: the first refused append aborts the attempt', async () => {
    const { started, seq, log } = await startedJob();
    // Another worker takes the job over with a new attempt.
    await store.append(jobStarted(started, 2, 'worker-2'), seq);
    log.boundary(snapshot(50));
    await new Promise<void>((resolve) => (log.stopSignal.aborted ? resolve() : log.stopSignal.addEventListener('abort', () => resolve())));
    expect(log.isLost).toBe(true);
    log.progress(snapshot(70));
    expect(await log.settle(completed)).toBeNull();
    expect(log.isLost).toBe(true);
    expect((await stored(started.jobId)).map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobStarted']);
  });

  it('ends a cancelled job after the newest cancel request (a DELETE that asks again), and leaves one that was settled meanwhile', async () => {
    const { started, seq, log } = await startedJob();
    const request = jobCancelRequested(started, 1);
    const first = await store.append(request, seq);
    expect(await log.checkCancel()).toBe(true);
    await store.append(jobCancelRequested(request, 1, 'key_test', true), first.seq);
    expect(await log.settleCancelled()).toMatchObject({ type: 'JobCancelled', data: { attempt: 1, cancelledBy: 'worker-1' } });
    expect((await stored(started.jobId)).map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCancelRequested', 'JobCancelRequested', 'JobCancelled']);

    // Settled by someone else first: nothing more is appended.
    const other = await startedJob();
    const asked = await store.append(jobCancelRequested(other.started, 1), other.seq);
    expect(await other.log.checkCancel()).toBe(true);
    await store.append(jobCancelled(other.started, 1, 'jobs-service'), asked.seq);
    expect(await other.log.settleCancelled()).toBeNull();
    expect((await stored(other.started.jobId)).map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCancelRequested', 'JobCancelled']);
  });

  it('ends a cancel found by a nudge while its last report was on its way after the request, not before it', async () => {
    const { started, log } = await startedJob();
    // The report is stored, the cancel request after it, and the nudge's look at the lifecycle
    // returns before the report's own answer does.
    const append = store.append.bind(store);
    const spy = jest.spyOn(store, 'append').mockImplementationOnce(async (event, expected) => {
      const result = await append(event, expected);
      await append(jobCancelRequested(event, 1), result.seq);
      expect(await log.checkCancel()).toBe(true);
      return result;
    });
    try {
      log.boundary(snapshot(50, { toolsCompleted: 1, toolsTotal: 2 }));
      expect((await log.settleCancelled())?.type).toBe('JobCancelled');
    } finally {
      spy.mockRestore();
    }
    expect((await stored(started.jobId)).map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobProgressed', 'JobCancelRequested', 'JobCancelled']);
  });
});
