import { describe, expect, it } from '@jest/globals';
import type { JobEvent } from '@app/contracts';
import { fold, toJobView } from '@app/job-state';
import { jobCompleted, jobProgressed, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { jobSplit, joinRequested, partCompleted, partFailed, partProgressed, partRequested, partStarted, splitParts } from '../../../../test/support/split-events.js';
import { liveStateOf, nextUpdate, snapshotUpdates, type JobUpdate, type LiveJobState } from './job-updates.service.js';
import { toSeedsMessage, type SeedsProgressMessage } from './job-updates.ws.js';

/** The updates a stream that took its snapshot after `before` sends for `after`, as follow() makes them. */
function follow(before: JobEvent[], after: JobEvent[]): JobUpdate[] {
  const snapshot = toJobView(fold(before)!, before.length);
  let live: LiveJobState = liveStateOf(snapshot);
  const updates = snapshotUpdates(snapshot);
  after.forEach((event, i) => {
    const next = nextUpdate(live, event, before.length + i + 1);
    live = next.live;
    if (next.update) updates.push(next.update);
  });
  return updates;
}

/** A transcode split in two, its part 0 made (after a failed attempt) and part 1 made, then joined. */
function splitRun() {
  const submitted = videoSubmitted(undefined, { pipeline: 'transcode', params: { segment_seconds: 60 } });
  const started = jobStarted(submitted, 1, 'worker-split');
  const split = jobSplit(started, splitParts(2));
  const p0 = partStarted(split, { index: 0 }, 'worker-a');
  const p0failed = partFailed(p0, { index: 0 }, false, 'worker-a');
  const p0again = partStarted(p0failed, { index: 0, partAttempt: 2 }, 'worker-b');
  const p1 = partStarted(split, { index: 1 }, 'worker-c');
  const p1done = partCompleted(p1, { index: 1 }, 'worker-c');
  const p0done = partCompleted(p0again, { index: 0, partAttempt: 2 }, 'worker-b');
  const join = joinRequested(p0done);
  return [
    submitted,
    started,
    split,
    partRequested(split, split.data.parts[0]!),
    partRequested(split, split.data.parts[1]!),
    p0,
    partProgressed(p0, { index: 0 }, 40),
    p0failed,
    p0again,
    p1,
    partProgressed(p0again, { index: 0, partAttempt: 2 }, 30),
    // A late report of part 0's failed attempt: no part moves, so no update.
    partProgressed(p0, { index: 0 }, 90),
    partProgressed(p1, { index: 1 }, 80),
    p1done,
    p0done,
    join,
    jobCompleted(join),
  ] satisfies JobEvent[];
}

const progressOf = (updates: JobUpdate[]) => updates.flatMap((u) => (u.kind === 'progress' ? [[u.seq, u.data.percent, u.data.current_tool, u.data.tools_completed]] : []));

describe("a split job's live updates", () => {
  it("send the parts' mean as progress on every move of a part, then the join, then the end", () => {
    const events = splitRun();
    const updates = follow(events.slice(0, 2), events.slice(2));
    expect(progressOf(updates)).toEqual([
      [3, 0, 'parts', 0], // JobSplit
      [6, 0, 'parts', 0], // part 0 started
      [7, 20, 'parts', 0], // part 0 at 40%
      [8, 0, 'parts', 0], // part 0's attempt failed: back in the queue
      [9, 0, 'parts', 0],
      [10, 0, 'parts', 0],
      [11, 15, 'parts', 0], // part 0's second attempt at 30%
      [13, 55, 'parts', 0], // part 1 at 80%
      [14, 65, 'parts', 1], // part 1 made
      [15, 99, 'parts', 2], // every part made: below 100 until the join completes the job
      [16, 99, 'join', 2],
    ]);
    expect(updates.every((u) => u.kind !== 'progress' || (u.data.status === 'running' && u.data.attempt === 1 && u.data.tools_total === 2))).toBe(true);
    expect(updates.at(-1)).toMatchObject({ kind: 'completed', seq: 17, data: { status: 'completed', worker_id: 'worker-split' } });
  });

  it('show, at each event, the progress GET /v1/jobs/{id} shows after it, whichever event the stream started from', () => {
    const events = splitRun().slice(0, -1);
    for (let from = 3; from < events.length; from++) {
      const updates = follow(events.slice(0, from), events.slice(from));
      let shown = toJobView(fold(events.slice(0, from))!, from).progress;
      for (let seq = from + 1; seq <= events.length; seq++) {
        const update = updates.find((u) => u.seq === seq && u.kind === 'progress');
        if (update?.kind === 'progress') shown = update.data.percent;
        expect([from, seq, shown]).toEqual([from, seq, fold(events.slice(0, seq))!.progress]);
      }
    }
  });

  it('send the seeds WebSocket the same percent, status running', () => {
    const events = splitRun();
    const updates = follow(events.slice(0, 12), events.slice(12, 13));
    const first: SeedsProgressMessage = { job_id: events[0]!.jobId, status: 'running', current_frame: 0, total_frames: null, percent: 15 };
    expect(toSeedsMessage(updates.at(-1)!, first)).toEqual({ ...first, percent: 55 });
  });

  it('leave a job run whole as it was: its own progress, its worker on its end', () => {
    const submitted = videoSubmitted();
    const started = jobStarted(submitted, 1, 'worker-x');
    const updates = follow([submitted], [started, jobProgressed(started, 42), jobCompleted(started)]);
    expect(updates.map((u) => u.kind)).toEqual(['status', 'status', 'progress', 'completed']);
    expect(updates[2]).toMatchObject({ data: { percent: 42, current_tool: 'probe' } });
    expect(updates[3]).toMatchObject({ data: { worker_id: 'worker-x' } });
  });
});
