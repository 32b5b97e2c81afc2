import { Logger } from '@nestjs/common';
import { ErrorCode, type JobCancelled, type JobCompleted, type JobFailed, type JobProgressed } from '@app/contracts';
import { ConcurrencyError, type EventStore } from '@app/event-store';
import { JobFailure } from './job-failure.js';
import type { ProgressSnapshot } from './progress-tracker.js';

/** At most one throttled progress event per this many ms (≤ 2 per second per job). */
export const PROGRESS_INTERVAL_MS = 500;

/**
 * The lifecycle subject of one attempt, from its `JobStarted` on. Every append (progress or the
 * terminal event) expects the sequence of the one before, one at a time, so a worker that has lost
 * the job can append nothing more. The first refused append stops the attempt (`stopSignal`, which
 * stops its tools): it was cancelled when the subject's last event is a `JobCancelRequested`, and
 * lost to another attempt otherwise. A cancel nudge or a heartbeat asks the same (`checkCancel`).
 *
 * Progress is throttled: a report is appended at once when the last append is at least
 * PROGRESS_INTERVAL_MS old, else the latest report waits for that moment. Tool boundaries are
 * appended at once. Reports that change nothing are not appended, and a waiting report is dropped
 * when a boundary or the terminal event supersedes it.
 */
export class AttemptLog {
  private readonly logger = new Logger(AttemptLog.name);
  private readonly stop = new AbortController();
  /** The sequence of the JobCancelRequested that stopped this attempt; null while none did. */
  private cancelSeq: number | null = null;
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

  /** Aborted when the attempt must stop: cancelled, or taken over by another attempt. */
  get stopSignal(): AbortSignal {
    return this.stop.signal;
  }

  /** Stopped because another attempt took the job over. */
  get isLost(): boolean {
    return this.stop.signal.aborted && this.cancelSeq === null;
  }

  /** Stopped because a cancel was requested: settle with `settleCancelled`. */
  get isCancelled(): boolean {
    return this.cancelSeq !== null;
  }

  /**
   * Looks at the subject for a cancel request stored after this attempt's last append, and stops the
   * attempt if there is one. For a cancel nudge and the heartbeat; errors are left for the next append.
   */
  async checkCancel(): Promise<boolean> {
    if (this.stop.signal.aborted) return this.isCancelled;
    const last = await this.store.lastLifecycleEntry(this.jobId).catch(() => null);
    if (last?.event?.type === 'JobCancelRequested' && last.seq > this.seq) this.cancelAt(last.seq);
    return this.isCancelled;
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
   * progress. Throws ConcurrencyError when the job was lost to another attempt. `sending` is called
   * right after the append is handed to the connection, in the same turn, so that whatever it
   * publishes (the slot's next pull) leaves in the same socket write.
   */
  async settle(event: JobCompleted | JobFailed, sending?: () => void): Promise<void> {
    this.close();
    await this.chain;
    if (this.stop.signal.aborted) throw new ConcurrencyError(this.store.subjectOf(event), this.seq);
    try {
      const appending = this.store.append(event, this.seq);
      sending?.();
      this.seq = (await appending).seq;
    } catch (error) {
      if (error instanceof ConcurrencyError) await this.refused(error);
      throw error;
    }
  }

  /**
   * Ends a cancelled attempt: `JobCancelled` right after the request that stopped it. Throws
   * ConcurrencyError when someone else ended the job meanwhile.
   */
  async settleCancelled(event: JobCancelled): Promise<void> {
    this.close();
    await this.chain;
    if (this.cancelSeq === null) throw new Error('settleCancelled on an attempt that was not cancelled');
    const seq = await appendCancelled(this.store, event, this.cancelSeq);
    if (seq === null) throw new ConcurrencyError(this.store.subjectOf(event), this.cancelSeq);
    this.seq = seq;
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
        await this.refused(error);
        return;
      }
      // The append may or may not have been stored: find out from the subject itself.
      this.logger.warn({ jobId: this.jobId, err: error instanceof Error ? error.message : String(error) }, 'progress append failed; resynchronizing');
      await this.resync();
    } finally {
      this.lastAppendAt = performance.now();
    }
  }

  /** An append was refused: by a cancel request (the attempt is cancelled) or by another attempt (lost). */
  private async refused(error: ConcurrencyError): Promise<void> {
    if (this.stop.signal.aborted) return;
    const last = await this.store.lastLifecycleEntry(this.jobId).catch(() => null);
    if (last?.event?.type === 'JobCancelRequested') {
      this.cancelAt(last.seq);
      return;
    }
    this.logger.warn({ jobId: this.jobId }, 'the job was taken over by another attempt; stopping this one');
    this.stop.abort(error);
  }

  private cancelAt(seq: number): void {
    if (this.stop.signal.aborted) return;
    this.logger.log({ jobId: this.jobId }, 'cancel requested; stopping the attempt');
    this.cancelSeq = seq;
    this.stop.abort(cancelledFailure());
  }

  private async resync(): Promise<void> {
    try {
      const last = await this.store.lastLifecycle(this.jobId);
      if (last?.ok && this.mine.has(last.stored.event.eventId)) this.seq = last.stored.seq;
      else await this.refused(new ConcurrencyError(this.store.subjects.lifecycle(this.jobId), this.seq));
    } catch {
      // Still unreachable: the terminal append will fail or succeed on its own terms.
    }
  }
}

/**
 * Appends `event` right after the cancel request stored at `requestSeq`, or after a newer one (a
 * DELETE asks again, with `deletion`: the job is stopped all the same, and its end goes after the
 * newest request). The sequence it was stored at; null when the lifecycle moved on otherwise (the
 * jobs service or another attempt settled the request first).
 */
export async function appendCancelled(store: EventStore, event: JobCancelled, requestSeq: number): Promise<number | null> {
  for (let expected = requestSeq, race = 0; ; race++) {
    try {
      return (await store.append(event, expected)).seq;
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      const last = await store.lastLifecycleEntry(event.jobId);
      if (race >= 3 || last?.event?.type !== 'JobCancelRequested' || last.seq <= expected) return null;
      expected = last.seq;
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
