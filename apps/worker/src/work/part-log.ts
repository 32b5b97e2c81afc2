import { Logger } from '@nestjs/common';
import type { ArtifactRef, JobEvent, PartStarted } from '@app/contracts';
import type { EventStore } from '@app/event-store';
import { readJobHistory, runCommand, type StoredAppend } from '@app/job-commands';
import { partStanding, type AttemptFailure, type Decision, type JobHistory, type Stamp } from '@app/job-state';
import type { PartProgressReport } from './split-executor.js';

/** At most one PartProgressed per part attempt this often: parts of one job share its sequence, so they report less often than a whole job. */
export const PART_PROGRESS_INTERVAL_MS = 1000;

/** How a part attempt ends, as its runner asks for it: the decider builds the events. */
export type PartEnd = { kind: 'CompletePart'; durationMs: number; artifacts: ArtifactRef[] } | { kind: 'FailPart'; failure: AttemptFailure; maxAttempts: number; jitter: number };

/**
 * The appends of one part attempt, from its PartStarted on, each through the decider from the history
 * this attempt knows, so that an attempt whose job was cancelled, failed or taken over appends
 * nothing more. The first refused append stops it (`stopSignal`, which kills its ffmpeg); a cancel
 * nudge or a heartbeat asks the same (`check`). Progress is throttled to one append per
 * PART_PROGRESS_INTERVAL_MS, the latest report winning.
 */
export class PartLog {
  private readonly logger = new Logger(PartLog.name);
  private readonly stop = new AbortController();
  private stoppedFor: 'cancel-requested' | 'lost' | null = null;
  private chain: Promise<void> = Promise.resolve();
  private waiting: PartProgressReport | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastAppendAt = 0;
  private lastPercent = -1;
  private closed = false;

  constructor(
    private readonly store: EventStore,
    readonly started: PartStarted,
    private history: JobHistory,
    private readonly stamp: () => Stamp,
    private readonly intervalMs = PART_PROGRESS_INTERVAL_MS,
  ) {}

  /** Aborted when the part attempt must stop: its job was cancelled or ended, or another attempt took the part. */
  get stopSignal(): AbortSignal {
    return this.stop.signal;
  }

  /** Why it stopped: its job was asked to stop (or was stopped), or it lost the part or the job; null while it holds. */
  get stopReason(): 'cancel-requested' | 'lost' | null {
    return this.stoppedFor;
  }

  /** Looks at the job, and stops the attempt if it no longer holds its part. For a nudge and the heartbeat; errors are left for the next append. */
  async check(): Promise<void> {
    if (this.stop.signal.aborted) return;
    const history = await readJobHistory(this.store, this.started.jobId, this.history.submission ?? undefined).catch(() => null);
    if (!history) return;
    const standing = partStanding(history, this.started);
    if (standing === 'cancel-requested' || standing === 'lost') this.stopFor(history, standing);
  }

  /** A progress report: appended when the last is at least intervalMs old, else the latest waits for that moment. */
  progress(report: PartProgressReport): void {
    if (this.closed || this.stop.signal.aborted || Math.floor(report.percent) <= this.lastPercent) return;
    this.waiting = { ...report, percent: Math.round(report.percent * 10) / 10 };
    if (this.timer) return;
    const wait = this.lastAppendAt + this.intervalMs - performance.now();
    if (wait <= 0) this.sendWaiting();
    else this.timer = setTimeout(() => this.sendWaiting(), wait);
  }

  /** Appends the part attempt's end after what is queued: the stored events, or null when it was stopped. */
  async settle(end: PartEnd): Promise<StoredAppend[] | null> {
    this.close();
    await this.chain;
    if (this.stop.signal.aborted) return null;
    const command = { ...end, jobId: this.started.jobId, started: this.started, stamp: this.stamp() };
    const outcome = await runCommand(this.store, command, { assumed: this.history });
    if (outcome.kind === 'refused') {
      this.stopFor(outcome.history, outcome.decision.reason);
      return null;
    }
    this.advance(outcome.history);
    return outcome.stored;
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.waiting = null;
  }

  private sendWaiting(): void {
    this.timer = null;
    const report = this.waiting;
    this.waiting = null;
    if (!report || this.closed) return;
    this.lastAppendAt = performance.now();
    this.lastPercent = Math.floor(report.percent);
    this.chain = this.chain.then(() => this.appendProgress(report));
  }

  private async appendProgress(report: PartProgressReport): Promise<void> {
    if (this.stop.signal.aborted) return;
    try {
      const outcome = await runCommand(this.store, { kind: 'PartProgress', jobId: this.started.jobId, started: this.started, progress: report, stamp: this.stamp() }, { assumed: this.history });
      if (outcome.kind === 'refused') this.stopFor(outcome.history, outcome.decision.reason);
      else this.advance(outcome.history);
    } catch (error) {
      // Progress is worth no failure: the next append, or the end, finds out where the part stands.
      this.logger.warn({ jobId: this.started.jobId, part: this.started.data.index, err: error instanceof Error ? error.message : String(error) }, 'part progress append failed');
      const history = await readJobHistory(this.store, this.started.jobId, this.history.submission ?? undefined).catch(() => null);
      if (history && partStanding(history, this.started) === 'holds') this.advance(history);
    }
  }

  private stopFor(history: JobHistory, reason: Extract<Decision, { kind: 'refused' }>['reason'] | 'holds' | 'unreadable'): void {
    if (this.stop.signal.aborted || reason === 'holds') return;
    this.advance(history);
    this.stoppedFor = reason === 'cancel-requested' ? 'cancel-requested' : 'lost';
    this.logger.log({ jobId: this.started.jobId, part: this.started.data.index, reason }, 'stopping this part');
    this.stop.abort(new Error(`part attempt stopped: ${reason}`));
  }

  private advance(history: JobHistory): void {
    if (history.last >= this.history.last) this.history = history;
  }
}

/** The event of a kind among what a command stored. */
export function storedOf<T extends JobEvent['type']>(stored: readonly StoredAppend[], type: T): Extract<JobEvent, { type: T }> | null {
  const found = stored.find((s) => s.event.type === type);
  return (found?.event as Extract<JobEvent, { type: T }> | undefined) ?? null;
}
