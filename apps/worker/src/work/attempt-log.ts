import { Logger } from '@nestjs/common';
import type { JobCompleted, JobFailed, JobProgressed } from '@app/contracts';
import { ConcurrencyError, type EventStore } from '@app/event-store';
import type { ProgressSnapshot } from './progress-tracker.js';

/** At most one throttled progress event per this many ms (≤ 2 per second per job). */
export const PROGRESS_INTERVAL_MS = 500;

/**
 * The lifecycle subject of one attempt, from its `JobStarted` on. Every append (progress or the
 * terminal event) expects the sequence of the one before, one at a time, so a worker that has lost
 * the job can append nothing more: the first refused append marks the attempt lost and aborts
 * `lostSignal`, which stops its tools.
 *
 * Progress is throttled: a report is appended at once when the last append is at least
 * PROGRESS_INTERVAL_MS old, else the latest report waits for that moment. Tool boundaries are
 * appended at once. Reports that change nothing are not appended, and a waiting report is dropped
 * when a boundary or the terminal event supersedes it.
 */
export class AttemptLog {
  private readonly logger = new Logger(AttemptLog.name);
  private readonly lost = new AbortController();
  private readonly mine = new Set<string>();
  private chain: Promise<void> = Promise.resolve();
  private lastAppendAt: number;
  private waiting: ProgressSnapshot | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastSent: ProgressSnapshot | null = null;
  private closed = false;
  /** How many JobProgressed events this attempt appended. */
  progressAppends = 0;

  constructor(
    private readonly store: EventStore,
    private readonly jobId: string,
    startedEventId: string,
    private seq: number,
    private readonly makeProgress: (snapshot: ProgressSnapshot) => JobProgressed,
    private readonly intervalMs = PROGRESS_INTERVAL_MS,
  ) {
    this.mine.add(startedEventId);
    this.lastAppendAt = performance.now();
  }

  /** Aborted when another worker has taken the job over. */
  get lostSignal(): AbortSignal {
    return this.lost.signal;
  }

  get isLost(): boolean {
    return this.lost.signal.aborted;
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
   * progress. Throws ConcurrencyError when the job was lost to another attempt.
   */
  async settle(event: JobCompleted | JobFailed): Promise<void> {
    this.close();
    await this.chain;
    if (this.isLost) throw new ConcurrencyError(this.store.subjectOf(event), this.seq);
    try {
      this.seq = (await this.store.append(event, this.seq)).seq;
    } catch (error) {
      if (error instanceof ConcurrencyError) this.lost.abort(error);
      throw error;
    }
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
    const event = this.makeProgress(snapshot);
    try {
      this.seq = (await this.store.append(event, this.seq)).seq;
      this.mine.add(event.eventId);
      this.progressAppends++;
    } catch (error) {
      if (error instanceof ConcurrencyError) {
        this.logger.warn({ jobId: this.jobId }, 'the job was taken over by another attempt; stopping this one');
        this.lost.abort(error);
        return;
      }
      // The append may or may not have been stored: find out from the subject itself.
      this.logger.warn({ jobId: this.jobId, err: error instanceof Error ? error.message : String(error) }, 'progress append failed; resynchronizing');
      await this.resync();
    } finally {
      this.lastAppendAt = performance.now();
    }
  }

  private async resync(): Promise<void> {
    try {
      const last = await this.store.lastLifecycle(this.jobId);
      if (last?.ok && this.mine.has(last.stored.event.eventId)) this.seq = last.stored.seq;
      else this.lost.abort(new ConcurrencyError(this.store.subjects.lifecycle(this.jobId), this.seq));
    } catch {
      // Still unreachable: the terminal append will fail or succeed on its own terms.
    }
  }
}

function sameProgress(a: ProgressSnapshot, b: ProgressSnapshot | null): boolean {
  return b !== null && a.percent === b.percent && a.currentFrame === b.currentFrame && a.currentTool === b.currentTool && a.toolsCompleted === b.toolsCompleted && a.totalFrames === b.totalFrames;
}
