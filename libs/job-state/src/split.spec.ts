import { describe, expect, it } from '@jest/globals';
import type { JobEvent } from '@app/contracts';
import { jobCancelled, jobCompleted, jobFailed, jobRedriven, jobStarted, videoSubmitted } from '../../../test/support/events.js';
import { jobSplit, joinRequested, partArtifact, partCompleted, partFailed, partProgressed, partRequested, partStarted, splitParts } from '../../../test/support/split-events.js';
import { evolve, fold, toJobView, type JobState } from './job-state.js';

/** A split job's first attempt, split into `count` parts (their requests appended too): the events, and the last one to cause more. */
function splitJob(count = 3) {
  const submitted = videoSubmitted(undefined, { pipeline: 'transcode', params: { segment_seconds: 60 } });
  const started = jobStarted(submitted, 1, 'worker-split');
  const split = jobSplit(started, splitParts(count));
  const requests = split.data.parts.map((part) => partRequested(split, part));
  return { submitted, started, split, events: [submitted, started, split, ...requests] as JobEvent[] };
}

const partsOf = (state: JobState | null) => state!.split!.parts;

describe('evolve with a split job', () => {
  it('given JobSplit, lists every part queued with its span, and the job at 0% of its parts', () => {
    const { events } = splitJob(3);
    const state = fold(events)!;
    expect(state.split).toEqual({
      attempt: 1,
      splitSeconds: 60,
      joinRequested: false,
      parts: [
        { index: 0, start: 0, end: 60, status: 'queued', attempts: 0, workerId: null, progress: 0 },
        { index: 1, start: 60, end: 120, status: 'queued', attempts: 0, workerId: null, progress: 0 },
        { index: 2, start: 120, end: null, status: 'queued', attempts: 0, workerId: null, progress: 0 },
      ],
    });
    expect(state).toMatchObject({ status: 'running', progress: 0, workerId: 'worker-split' });
    expect(state.progressDetail).toEqual({ percent: 0, currentFrame: 0, totalFrames: null, currentTool: 'parts', toolsCompleted: 0, toolsTotal: 3 });
  });

  it('leaves the state as it was on PartRequested: the part is already listed by its JobSplit', () => {
    const { split, events } = splitJob(2);
    const before = fold(events.slice(0, 3))!;
    expect(evolve(before, partRequested(split, split.data.parts[0]!))).toBe(before);
  });

  it('moves a part through PartStarted and PartProgressed, its progress never backwards within its attempt, the job at the mean of its parts', () => {
    const { split, events } = splitJob(3);
    const started = partStarted(split, { index: 1 }, 'worker-b');
    const state = fold([...events, started, partProgressed(started, { index: 1 }, 45), partProgressed(started, { index: 1 }, 30)])!;
    expect(partsOf(state)[1]).toEqual({ index: 1, start: 60, end: 120, status: 'running', attempts: 1, workerId: 'worker-b', progress: 45 });
    expect(partsOf(state)[0]!.status).toBe('queued');
    expect(state.progress).toBe(15);
    expect(state.progressDetail).toMatchObject({ percent: 15, currentTool: 'parts', toolsCompleted: 0, toolsTotal: 3 });
  });

  it('ignores a second PartStarted of the same part attempt (a late delivery): its progress stays', () => {
    const { split, events } = splitJob(2);
    const started = partStarted(split, { index: 0 });
    const state = fold([...events, started, partProgressed(started, { index: 0 }, 70), partStarted(split, { index: 0 }, 'worker-late')])!;
    expect(partsOf(state)[0]).toMatchObject({ status: 'running', progress: 70, workerId: 'worker-1' });
  });

  it('puts a part whose attempt failed (not finally) back in the queue at 0%, and ignores that attempt once the next one runs', () => {
    const { split, events } = splitJob(2);
    const first = partStarted(split, { index: 0 }, 'worker-a');
    const failed = partFailed(first, { index: 0 }, false, 'worker-a');
    const queued = fold([...events, first, partProgressed(first, { index: 0 }, 80), failed])!;
    expect(partsOf(queued)[0]).toMatchObject({ status: 'queued', attempts: 1, progress: 0, workerId: 'worker-a' });
    expect(queued).toMatchObject({ status: 'running', progress: 0, error: { code: 'WORKER_ERROR' } });

    const second = partStarted(failed, { index: 0, partAttempt: 2 }, 'worker-b');
    const state = fold(
      [second, partProgressed(second, { index: 0, partAttempt: 2 }, 20), partProgressed(first, { index: 0, partAttempt: 1 }, 90), partFailed(first, { index: 0, partAttempt: 1 }, false, 'worker-a')],
      queued,
    )!;
    expect(partsOf(state)[0]).toMatchObject({ status: 'running', attempts: 2, progress: 20, workerId: 'worker-b' });
    expect(state.progress).toBe(10);
  });

  it('marks a part failed for good on a final PartFailed, keeping how far it got', () => {
    const { split, events } = splitJob(2);
    const started = partStarted(split, { index: 1, partAttempt: 1 });
    const state = fold([...events, started, partProgressed(started, { index: 1 }, 30), partFailed(started, { index: 1 }, true)])!;
    expect(partsOf(state)[1]).toMatchObject({ status: 'failed', attempts: 1, progress: 30 });
    expect(state.error).toEqual({ code: 'WORKER_ERROR', message: 'part failed with WORKER_ERROR' });
  });

  it("stops the parts still queued or running when the job's attempt ends: cancelled, or failed by another part; made parts stay made", () => {
    const { split, events } = splitJob(3);
    const p0 = partStarted(split, { index: 0 });
    const p1 = partStarted(split, { index: 1 });
    const running = [...events, p0, partCompleted(p0, { index: 0 }), p1];
    const cancelled = fold([...running, jobCancelled(p1, 1)])!;
    expect(partsOf(cancelled).map((p) => p.status)).toEqual(['completed', 'stopped', 'stopped']);
    expect(toJobView(cancelled, 0).parts.map((p) => p.status)).toEqual(['completed', 'stopped', 'stopped']);
    const failed = fold([...running, partFailed(p1, { index: 1 }, true), jobFailed(p1, 1, true)])!;
    expect(partsOf(failed).map((p) => p.status)).toEqual(['completed', 'failed', 'stopped']);
    // A retry of the job (not final) leaves the parts as they are: the next attempt splits it again.
    expect(partsOf(fold([...running, jobFailed(p1, 1, false)])!).map((p) => p.status)).toEqual(['completed', 'running', 'queued']);
  });

  it("ignores the part events of an older attempt of the job, once another attempt has split it again", () => {
    const { split, events } = splitJob(2);
    const oldPart = partStarted(split, { index: 0 }, 'worker-old');
    const jobRetry = jobFailed(oldPart, 1, false, 'WORKER_LOST');
    const second = jobStarted(jobRetry, 2, 'worker-new');
    const resplit = jobSplit(second, splitParts(2), 2);
    const state = fold([...events, oldPart, jobRetry, second, resplit, partProgressed(oldPart, { index: 0 }, 60), partCompleted(oldPart, { index: 0 }, 'worker-old'), partStarted(oldPart, { index: 1 }, 'worker-old')])!;
    expect(state.split!.attempt).toBe(2);
    expect(partsOf(state).map((p) => [p.status, p.progress, p.workerId])).toEqual([
      ['queued', 0, null],
      ['queued', 0, null],
    ]);
    expect(state.artifacts).toEqual([]);
  });

  it('holds the job below 100% until the join completes it, even with every part made', () => {
    const { split, events } = splitJob(2);
    const made = [0, 1].flatMap((index) => {
      const started = partStarted(split, { index }, `worker-${index}`);
      return [started, partCompleted(started, { index }, `worker-${index}`)];
    });
    const allMade = fold([...events, ...made])!;
    expect(partsOf(allMade).map((p) => [p.status, p.progress])).toEqual([
      ['completed', 100],
      ['completed', 100],
    ]);
    expect(allMade).toMatchObject({ status: 'running', progress: 99 });
    expect(allMade.progressDetail).toMatchObject({ percent: 99, currentTool: 'parts', toolsCompleted: 2, toolsTotal: 2 });

    const join = joinRequested(made.at(-1)!);
    const joining = evolve(allMade, join)!;
    expect(joining.split!.joinRequested).toBe(true);
    expect(joining.progressDetail).toMatchObject({ percent: 99, currentTool: 'join', toolsCompleted: 2 });

    const done = evolve(joining, jobCompleted(join))!;
    expect(done).toMatchObject({ status: 'completed', progress: 100 });
  });

  it("adds each part's files to the job's artifacts on PartCompleted, then the join's JobCompleted replaces them with its own", () => {
    const { split, events } = splitJob(2);
    const jobId = split.jobId;
    const p0 = partStarted(split, { index: 0 });
    const p1 = partStarted(split, { index: 1 });
    const parted = fold([...events, p0, p1, partCompleted(p0, { index: 0 }), partCompleted(p1, { index: 1 })])!;
    expect(parted.artifacts.map((a) => a.name)).toEqual(['part-0000.mp4', 'part-0001.mp4']);

    // A part made again (a later attempt's PartCompleted) has its files once, the later ones.
    const again = partArtifact(jobId, 0);
    const remade = evolve(parted, partCompleted(p0, { index: 0 }, 'worker-2', [{ ...again, size: 7 }]))!;
    expect(remade.artifacts.filter((a) => a.name === 'part-0000.mp4')).toEqual([{ ...again, size: 7 }]);

    const completed = jobCompleted(p1);
    const joined = { name: 'output.mp4', bucket: 'test_artifacts', objectName: `artifacts/${jobId}/1/output.mp4`, size: 5000, contentType: 'video/mp4', sha256: 'd'.repeat(64) };
    completed.data.artifacts = [joined];
    expect(evolve(remade, completed)!.artifacts).toEqual([joined]);
  });

  it('keeps, on a redrive, the parts an earlier attempt made as completed with their attempts and worker, and queues the others afresh', () => {
    const { submitted, split, events } = splitJob(3);
    const a0 = partStarted(split, { index: 0 }, 'worker-a');
    const a0failed = partFailed(a0, { index: 0 }, false, 'worker-a');
    const a0again = partStarted(a0failed, { index: 0, partAttempt: 2 }, 'worker-b');
    const b1 = partStarted(split, { index: 1 }, 'worker-c');
    const c2 = partStarted(split, { index: 2 }, 'worker-d');
    const lost = partFailed(c2, { index: 2 }, true, 'worker-d', 'INVALID_MEDIA');
    const ended = jobFailed(lost, 1, true, 'INVALID_MEDIA');
    const firstRun = [...events, a0, a0failed, a0again, partCompleted(a0again, { index: 0, partAttempt: 2 }, 'worker-b'), b1, partProgressed(b1, { index: 1 }, 50), c2, lost, ended];
    const failed = fold(firstRun)!;
    expect(failed.status).toBe('failed');

    const redriven = jobRedriven(submitted, ended, 2);
    const second = jobStarted(redriven, 2, 'worker-e');
    const resplit = jobSplit(second, splitParts(3), 2, [0]);
    const state = fold([redriven, second, resplit], failed)!;
    expect(partsOf(state)).toEqual([
      { index: 0, start: 0, end: 60, status: 'completed', attempts: 2, workerId: 'worker-b', progress: 100 },
      { index: 1, start: 60, end: 120, status: 'queued', attempts: 0, workerId: null, progress: 0 },
      { index: 2, start: 120, end: null, status: 'queued', attempts: 0, workerId: null, progress: 0 },
    ]);
    expect(state).toMatchObject({ status: 'running', attempts: 2, progress: 33.3 });
    expect(state.progressDetail).toMatchObject({ toolsCompleted: 1, toolsTotal: 3 });
    // The kept part's output is still the job's.
    expect(state.artifacts.map((a) => a.name)).toEqual(['part-0000.mp4']);
  });

  it("shows the parts in the job's view, in order, with their worker and progress", () => {
    const { split, events } = splitJob(2);
    const started = partStarted(split, { index: 1 }, 'worker-b');
    const view = toJobView(fold([...events, started, partProgressed(started, { index: 1 }, 12.5)])!, 7);
    expect(view.parts).toEqual([
      { index: 0, start: 0, end: 60, status: 'queued', attempts: 0, worker_id: null, progress: 0 },
      { index: 1, start: 60, end: null, status: 'running', attempts: 1, worker_id: 'worker-b', progress: 12.5 },
    ]);
    expect(view.progress).toBe(6.3);
  });

  it('shows no parts for a job run whole', () => {
    const submitted = videoSubmitted();
    expect(toJobView(fold([submitted, jobStarted(submitted)])!, 2).parts).toEqual([]);
  });
});
