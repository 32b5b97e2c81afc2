import { Logger } from '@nestjs/common';
import { ErrorCode, type JobCancelled, type JobCompleted, type JobFailed, type JobSplit, type JobStarted, type SplitPartRef } from '@app/contracts';
import type { EventStore } from '@app/event-store';
import { readJobHistory, runCommand } from '@app/job-commands';
import { attemptStanding, type Decision, type JobCommand, type JobHistory, type Stamp } from '@app/job-state';
import { JobFailure } from './job-failure.js';
import type { ProgressSnapshot } from './progress-tracker.js';

/** At most one throttled progress event per this many ms (≤ 2 per second per job). */
export const PROGRESS_INTERVAL_MS = 500;

/** The end of an attempt, as the runner asks for it: the decider builds the event. */
export type AttemptEnd = Extract<JobCommand, { kind: 'Complete' | 'Fail' }> extends infer C ? (C extends unknown ? Omit<C, 'jobId' | 'started' | 'stamp'> : never) : never;

/**
 * The appends of one attempt, from its `JobStarted` on. Every append (progress or the terminal event)
 * goes through the decider (runCommand), from the history this attempt knows (its own last append),
 * so a worker that has lost the job can append nothing more. The first refused
 * append stops the attempt (`stopSignal`, which stops its tools): it was cancelled when the decider
 * says a cancel was requested, and lost to another attempt otherwise. A cancel nudge or a heartbeat
 * asks the same (`checkCancel`).
 *
 * Progress is throttled: a report is appended at once when the last append is at least
 * PROGRESS_INTERVAL_MS old, else the latest report waits for that moment. Tool boundaries are
 * appended at once. Reports that change nothing are not appended, and a waiting report is dropped
 * when a boundary or the terminal event supersedes it.
 */
export class AttemptLog {
  private readonly logger = new Logger(AttemptLog.name);
  private readonly stop = new AbortController();
  private cancelled = false;
  private chain: Promise<void> = Promise.resolve();
  private lastAppendAt: number;
  private waiting: ProgressSnapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastSent: ProgressSnapshot | null = null;
  private closed = false;
  /** How many JobProgressed events this attempt appended. */
  progressAppends = 0;

  /**
   * `history` is the job's history right after `started` was stored; `stamp` gives the time and ids
   * of each event appended.
   */
  constructor(
    private readonly store: EventStore,
    readonly started: JobStarted,
    private history: JobHistory,
    private readonly stamp: () => Stamp,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {
    this.lastAppendAt = performance.now();
  }

  private get jobId(): string {
    return this.started.jobId;
  }

  /** Aborted when the attempt must stop: cancelled, or taken over by another attempt. */
  get stopSignal(): AbortSignal {
    return this.stop.signal;
  }

  /** Stopped because another attempt took the job over. */
  get isLost(): boolean {
    return this.stop.signal.aborted && !this.cancelled;
  }

  /** Stopped because a cancel was requested: settle with `settleCancelled`. */
  get isCancelled(): boolean {
    return this.cancelled;
  }

  /**
   * Looks at the job for a cancel request stored after this attempt's last append, and stops the
   * attempt if there is one. For a cancel nudge and the heartbeat; errors are left for the next append.
   */
  async checkCancel(): Promise<boolean> {
    if (this.stop.signal.aborted) return this.isCancelled;
    const history = await this.readHistory().catch(() => null);
    if (history?.lifecycle && attemptStanding(history.lifecycle, this.started) === 'cancel-requested') this.stopFor(history, 'cancel-requested');
    return this.isCancelled;
  }

  /** The job's history now; its first submission, which never changes, is not read again. */
  private readHistory(): Promise<JobHistory> {
    return readJobHistory(this.store, this.jobId, this.history.submission ?? undefined);
  }

  /** A throttled progress report. */
  progress(snapshot: ProgressSnapshot): void {
    if (this.closed || this.isLost || sameProgress(snapshot, this.waiting ?? this.lastSent)) return;
    this.waiting = snapshot;
    if (this.timer) return;
    const wait = this.lastAppendAt + this.intervalMs - performance.now();
    if (wait <= 0) this.sendWaiting();
    else this.timer = setTimeout(() => this.sendWaiting(), wait);
  }

  /** A tool boundary: appended at once, replacing any report that waits. */
  boundary(snapshot: ProgressSnapshot): void {
    if (this.closed || this.isLost) return;
    this.clearWaiting();
    this.enqueueProgress(snapshot);
  }

  /**
   * Appends the attempt's terminal (or retry) event after everything already queued, and stops
   * progress: the stored event, or null when the attempt was stopped (cancelled or lost: see
   * isCancelled). `sending` is called right after the append is handed to the connection, in the
   * same turn, so that whatever it publishes (the slot's next pull) leaves in the same socket write.
   */
  async settle(end: AttemptEnd, sending?: () => void): Promise<JobCompleted | JobFailed | null> {
    this.close();
    await this.chain;
    if (this.stop.signal.aborted) return null;
    const outcome = await runCommand(this.store, { ...end, jobId: this.jobId, started: this.started, stamp: this.stamp() }, { assumed: this.history, sending });
    if (outcome.kind === 'refused') {
      this.stopFor(outcome.history, outcome.decision.reason);
      return null;
    }
    this.advance(outcome.history);
    const { event } = outcome.stored[0];
    return event.type === 'JobCompleted' || event.type === 'JobFailed' ? event : null;
  }

  /** Whether an earlier attempt split the job (a redrive): a new split keeps its cut points, so there is nothing to cut. */
  get splitBefore(): boolean {
    return Boolean(this.history.split?.event);
  }

  /**
   * Splits the job (issue #19): its JobSplit and the parts' work requests, in one batch, through the
   * decider, after everything already queued. The stored JobSplit, or null when the attempt was
   * stopped (cancelled or lost: see isCancelled) or had split it already.
   */
  async split(splitSeconds: number, parts: SplitPartRef[]): Promise<JobSplit | null> {
    this.close();
    await this.chain;
    if (this.stop.signal.aborted) return null;
    const outcome = await runCommand(this.store, { kind: 'Split', jobId: this.jobId, started: this.started, splitSeconds, parts, stamp: this.stamp() }, { assumed: this.history });
    if (outcome.kind === 'refused') {
      if (outcome.decision.reason !== 'stale') this.stopFor(outcome.history, outcome.decision.reason);
      return null;
    }
    this.advance(outcome.history);
    const { event } = outcome.stored[0];
    return event.type === 'JobSplit' ? event : null;
  }

  /**
   * Ends a cancelled attempt: `JobCancelled` right after the request that stopped it (or a newer one:
   * a DELETE asks again). Null when someone else ended the job meanwhile.
   */
  async settleCancelled(): Promise<JobCancelled | null> {
    this.close();
    await this.chain;
    if (!this.cancelled) throw new Error('settleCancelled on an attempt that was not cancelled');
    const outcome = await runCommand(this.store, { kind: 'Cancel', jobId: this.jobId, started: this.started, stamp: this.stamp() }, { assumed: this.history });
    if (outcome.kind === 'refused') return null;
    this.advance(outcome.history);
    const { event } = outcome.stored[0];
    return event.type === 'JobCancelled' ? event : null;
  }

  /** Stops progress; a report that waits is dropped. */
  close(): void {
    this.closed = true;
    this.clearWaiting();
  }

  private sendWaiting(): void {
    this.timer = null;
    const snapshot = this.waiting;
    this.waiting = null;
    if (snapshot && !this.closed) this.enqueueProgress(snapshot);
  }

  private clearWaiting(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.waiting = null;
  }

  private enqueueProgress(snapshot: ProgressSnapshot): void {
    this.lastSent = snapshot;
    // Counts from the moment the append is queued, so a queue of reports cannot form.
    this.lastAppendAt = performance.now();
    this.chain = this.chain.then(() => this.appendProgress(snapshot));
  }

  private async appendProgress(snapshot: ProgressSnapshot): Promise<void> {
    if (this.isLost) return;
    try {
      const outcome = await runCommand(this.store, { kind: 'Progress', jobId: this.jobId, started: this.started, progress: snapshot, stamp: this.stamp() }, { assumed: this.history });
      if (outcome.kind === 'refused') {
        this.stopFor(outcome.history, outcome.decision.reason);
        return;
      }
      this.advance(outcome.history);
      this.progressAppends++;
    } catch (error) {
      // The append may or may not have been stored: find out from the subject itself.
      this.logger.warn({ jobId: this.jobId, err: error instanceof Error ? error.message : String(error) }, 'progress append failed; resynchronizing');
      await this.resync();
    } finally {
      this.lastAppendAt = performance.now();
    }
  }

  /** The decider refused an append of this attempt: it was asked to stop, or it lost the job. */
  private stopFor(history: JobHistory, reason: Extract<Decision, { kind: 'refused' }>['reason']): void {
    if (this.stop.signal.aborted) return;
    this.advance(history);
    if (reason === 'cancel-requested') {
      this.logger.log({ jobId: this.jobId }, 'cancel requested; stopping the attempt');
      this.cancelled = true;
      this.stop.abort(cancelledFailure());
      return;
    }
    this.logger.warn({ jobId: this.jobId, reason }, 'the job was taken over by another attempt; stopping this one');
    this.stop.abort(new Error(`attempt stopped: ${reason}`));
  }

  /**
   * Takes `history` as what the job holds, unless this attempt already knows a later message of it:
   * an append's answer can arrive after a cancel nudge has read the request stored after that
   * append, and the request is what the attempt must settle after.
   */
  private advance(history: JobHistory): void {
    if (history.last >= this.history.last) this.history = history;
  }

  private async resync(): Promise<void> {
    try {
      const history = await this.readHistory();
      const standing = attemptStanding(history.lifecycle, this.started);
      // Its own last event (the report was stored after all): go on after it.
      if (standing === 'holds') this.advance(history);
      else this.stopFor(history, standing);
    } catch {
      // Still unreachable: the terminal append will fail or succeed on its own terms.
    }
  }
}

/** The reason a cancelled attempt's tools are stopped with. */
export function cancelledFailure(): JobFailure {
  return new JobFailure(ErrorCode.Cancelled, 'the job was cancelled', true);
}

function sameProgress(a: ProgressSnapshot, b: ProgressSnapshot | null): boolean {
  return b !== null && a.percent === b.percent && a.currentFrame === b.currentFrame && a.currentTool === b.currentTool && a.toolsCompleted === b.toolsCompleted && a.totalFrames === b.totalFrames;
}
