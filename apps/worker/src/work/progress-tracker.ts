import type { ProgressDetail } from '@app/job-state';

/** What a JobProgressed event says, without its attempt: the same facts the read model keeps. */
export type ProgressSnapshot = ProgressDetail;

/**
 * The progress of one attempt over a pipeline's tools, as a pure calculation. Percent is the share
 * of tools completed plus the current tool's own fraction, and never goes backwards within the
 * attempt, whatever a tool reports.
 */
export class ProgressTracker {
  private toolsCompleted = 0;
  private currentTool: string | null = null;
  private done = 0;
  private currentFrame = 0;
  private totalFrames: number | null = null;
  private highest = 0;

  constructor(
    private readonly toolsTotal: number,
    initialTotalFrames: number | null = null,
  ) {
    this.totalFrames = initialTotalFrames;
  }

  /** A tool begins; the tools before it are complete. */
  startTool(index: number, name: string): void {
    this.toolsCompleted = index;
    this.currentTool = name;
    this.done = 0;
    this.currentFrame = 0;
  }

  /** The current tool reports; `done` is its own fraction from 0 to 1. */
  report(done: number, currentFrame?: number, totalFrames?: number | null): void {
    if (Number.isFinite(done)) this.done = Math.min(1, Math.max(this.done, done));
    if (currentFrame !== undefined && Number.isFinite(currentFrame)) this.currentFrame = Math.max(0, Math.floor(currentFrame));
    if (totalFrames !== undefined) this.totalFrames = totalFrames === null ? null : Math.max(0, Math.floor(totalFrames));
  }

  /** The tool at `index` has finished. */
  finishTool(index: number): void {
    this.toolsCompleted = index + 1;
    this.done = 0;
  }

  snapshot(): ProgressSnapshot {
    const raw = this.toolsTotal === 0 ? 0 : ((this.toolsCompleted + this.done) / this.toolsTotal) * 100;
    this.highest = Math.max(this.highest, Math.min(100, Math.round(raw * 10) / 10));
    return {
      percent: this.highest,
      currentFrame: this.totalFrames === null ? this.currentFrame : Math.min(this.currentFrame, this.totalFrames),
      totalFrames: this.totalFrames,
      currentTool: this.currentTool,
      toolsCompleted: Math.min(this.toolsCompleted, this.toolsTotal),
      toolsTotal: this.toolsTotal,
    };
  }
}
