import { watch, type FSWatcher } from 'node:fs';
import { join } from 'node:path';
import type { ArtifactRef } from '@app/contracts';
import type { ArtifactWriter } from '../tool.js';
import { inParallel } from './sampling.js';

/**
 * Uploads the numbered files of an image sequence (`<prefix>-000001.jpg`, ...) while ffmpeg is still
 * writing the sequence, instead of all of them after it exits. ffmpeg's image2 muxer writes each
 * file whole and closes it before it creates the next one, so a file is complete once the next one
 * has appeared; the folder is watched for that (inotify). Whatever was not started by the time
 * ffmpeg ends is started by `uploadAll`, in the order asked for, so the artifacts keep their order
 * (the writer lists them in the order their uploads began, and files appear in order).
 *
 * A file is started early only when it is number `limit` or below (no more than the samples there
 * can be), and at most `lanes` uploads run at once. `settle` waits for every upload started, so
 * that a tool that fails leaves nothing in flight for its artifacts to outlive the attempt's cleanup.
 */
export class ImageSequenceUploads {
  private readonly started = new Map<number, Promise<ArtifactRef>>();
  private readonly queue: number[] = [];
  private running = 0;
  /** The highest file number known to be complete. */
  private complete = 0;
  private watcher: FSWatcher | null = null;

  constructor(
    private readonly artifacts: ArtifactWriter,
    private readonly dir: string,
    private readonly prefix: string,
    private readonly contentType: string,
    /** The artifact name of file number n (1-based, as ffmpeg numbers them). */
    private readonly nameOf: (n: number) => string,
    private readonly limit: number,
    private readonly lanes: number,
  ) {}

  /** Starts watching the folder; call before ffmpeg starts. Without a watcher (none on this system), every upload waits for `uploadAll`. */
  watch(): void {
    const pattern = new RegExp(`^${this.prefix}-(\\d+)\\.jpg$`);
    try {
      this.watcher = watch(this.dir, (_, filename) => {
        const match = filename ? pattern.exec(filename.toString()) : null;
        if (match) this.seen(Number(match[1]));
      });
      this.watcher.on('error', () => this.stop());
    } catch {
      this.watcher = null;
    }
  }

  /** Stops watching: ffmpeg has ended. */
  stop(): void {
    this.watcher?.close();
    this.watcher = null;
  }

  /** File number n has appeared: every one before it is complete. */
  private seen(n: number): void {
    const upTo = Math.min(n - 1, this.limit);
    for (let k = this.complete + 1; k <= upTo; k++) this.queue.push(k);
    this.complete = Math.max(this.complete, upTo);
    this.pump();
  }

  private pump(): void {
    while (this.watcher && this.running < this.lanes && this.queue.length > 0) {
      const n = this.queue.shift()!;
      this.running++;
      const upload = this.start(n);
      void upload.then(
        () => this.done(),
        () => this.done(),
      );
    }
  }

  private done(): void {
    this.running--;
    this.pump();
  }

  private start(n: number): Promise<ArtifactRef> {
    let upload = this.started.get(n);
    if (!upload) {
      upload = this.artifacts.putFile(this.nameOf(n), join(this.dir, `${this.prefix}-${String(n).padStart(6, '0')}.jpg`), this.contentType);
      // Observed by `upload` or `settle`; never an unhandled rejection meanwhile.
      upload.catch(() => undefined);
      this.started.set(n, upload);
    }
    return upload;
  }

  /**
   * Files `numbers` (ffmpeg has ended), uploaded: those under way are awaited, the others started in
   * that order, at most `lanes` at a time. `started` resolves once the last has been started (what
   * the tool uploads next comes after them in the artifact list), `done` once all are uploaded.
   */
  uploadAll(numbers: readonly number[]): { started: Promise<void>; done: Promise<ArtifactRef[]> } {
    this.stop();
    let startedAll = () => {};
    const started = new Promise<void>((resolve) => (startedAll = resolve));
    const last = numbers.length - 1;
    const done = inParallel(numbers, this.lanes, (n, index) => {
      const upload = this.start(n);
      if (index === last) startedAll();
      return upload;
    });
    if (numbers.length === 0) startedAll();
    // A failure stops the lanes before the last start: nothing more is started, and `done` says why.
    done.catch(() => startedAll());
    return { started, done };
  }

  /** Every file started but not asked for by `uploadAll` (there should be none once the tool is done). */
  strays(asked: ReadonlySet<number>): number[] {
    return [...this.started.keys()].filter((n) => !asked.has(n));
  }

  /** Stops watching and waits for every upload started, whatever their outcome. */
  async settle(): Promise<void> {
    this.stop();
    this.queue.length = 0;
    await Promise.allSettled(this.started.values());
  }
}
