import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { JobEvent } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { fold, toJobView } from '@app/job-state';
import { jobCompleted, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { jobSplit, joinRequested, partCompleted, partProgressed, partRequested, partStarted, splitParts } from '../../../../test/support/split-events.js';
import { freshNamespace, type TestNamespace } from '../../../../test/support/services.js';
import type { JobQueriesClient } from '../jobs/job-queries.client.js';
import { JobUpdatesService, type JobUpdate } from './job-updates.service.js';

/** A split job's live updates as follow() reads them from a real stream. */
describe("JobUpdatesService.follow with a split job's events in JetStream", () => {
  let ns: TestNamespace;
  let store: EventStore;

  beforeAll(async () => {
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
  });
  afterAll(async () => {
    await ns.cleanup();
  });

  it("sends the parts' mean as progress while the parts run, then the job's end", async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'transcode', params: { segment_seconds: 60 } });
    const started = jobStarted(submitted, 1, 'worker-split');
    const split = jobSplit(started, splitParts(2));
    const p0 = partStarted(split, { index: 0 }, 'worker-a');
    const p1 = partStarted(split, { index: 1 }, 'worker-b');
    const p0done = partCompleted(p0, { index: 0 }, 'worker-a');
    const p1done = partCompleted(p1, { index: 1 }, 'worker-b');
    const join = joinRequested(p1done);
    const events: JobEvent[] = [
      submitted,
      started,
      split,
      ...split.data.parts.map((part) => partRequested(split, part)),
      p0,
      p1,
      partProgressed(p0, { index: 0 }, 50),
      partProgressed(p1, { index: 1 }, 30),
      p0done,
      p1done,
      join,
      jobCompleted(join),
    ];
    const seqs: number[] = [];
    for (const event of events) seqs.push((await store.append(event, seqs.at(-1) ?? 0)).seq);
    const seq = seqs.at(-1)!;

    // The snapshot the jobs service would answer once the job had been split; follow() reads the stream only.
    const snapshot = toJobView(fold(events.slice(0, 3))!, seqs[2]!);
    const updates: JobUpdate[] = [];
    for await (const update of new JobUpdatesService(null as unknown as JobQueriesClient, store).follow(snapshot, new AbortController().signal)) updates.push(update);

    expect(updates.map((u) => (u.kind === 'progress' ? `${u.data.percent}% ${u.data.current_tool} ${u.data.tools_completed}/${u.data.tools_total}` : `${u.kind} ${u.data.job_id === submitted.jobId}`))).toEqual([
      'status true',
      '0% parts 0/2', // part 0 started
      '0% parts 0/2', // part 1 started
      '25% parts 0/2',
      '40% parts 0/2',
      '65% parts 1/2',
      '99% parts 2/2',
      '99% join 2/2',
      'completed true',
    ]);
    expect(updates.at(-1)).toMatchObject({ seq, data: { worker_id: 'worker-split' } });
  });
});
