import cliProgress from 'cli-progress';
import type { RebuildProgress } from '@app/replay';
import { note } from '../shared/output.js';

/**
 * Shows a rebuild's progress on stderr: a bar with events/s and ETA on a terminal; on anything else
 * (a log file, a pipe) a line every few seconds, so stdout stays clean for the result.
 */
export class RebuildProgressView {
  private readonly bar: cliProgress.SingleBar | null;
  private readonly quiet: boolean;
  private lastLine = 0;
  private started = false;

  constructor(
    private readonly total: number,
    enabled: boolean,
  ) {
    this.bar =
      enabled && process.stderr.isTTY
        ? new cliProgress.SingleBar(
            {
              format: 'rebuilding |{bar}| {percentage}% | {value}/{total} events | {speed} events/s | ETA {eta_formatted}',
              stream: process.stderr,
              etaBuffer: 50,
              fps: 10,
              hideCursor: true,
            },
            cliProgress.Presets.shades_classic,
          )
        : null;
    this.quiet = !enabled;
  }

  update(progress: RebuildProgress): void {
    const done = progress.throughSeq - progress.fromSeq + 1;
    const speed = Math.round(progress.messages / Math.max(progress.elapsedMs / 1000, 0.001));
    if (this.bar) {
      if (!this.started) {
        this.bar.start(this.total, 0, { speed: 0 });
        this.started = true;
      }
      this.bar.update(done, { speed });
      return;
    }
    if (this.quiet || progress.elapsedMs - this.lastLine < 5000) return;
    this.lastLine = progress.elapsedMs;
    const left = this.total - done;
    const eta = speed > 0 ? `${Math.ceil(left / speed)} s` : '?';
    note(`rebuilding: ${done}/${this.total} events, ${speed} events/s, ETA ${eta}`);
  }

  stop(): void {
    if (this.bar && this.started) this.bar.stop();
  }
}
