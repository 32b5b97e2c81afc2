import { open } from 'node:fs/promises';
import { Readable } from 'node:stream';

/** How much a follower reads from the file at a time. */
const READ_BYTES = 256 * 1024;

/**
 * A file being written from a stream (the upload coming down from the Object Store), which readers
 * may follow while it grows: a follower's read of bytes not written yet waits for them, so it sees
 * every byte in order, never a short file. `size` is what the file will hold; the download fails
 * when the source ends short of it or goes past it, and every follower waiting or still to read
 * fails with it. The source's own checks (the Object Store's chunk count and SHA-256) fail it the
 * same way, after its last bytes were written: whoever reads along must wait for `finished` before
 * trusting what it read.
 */
export class GrowingFile {
  private written = 0;
  private failed: Error | null = null;
  private ended = false;
  private readonly waiters = new Set<() => void>();
  /** Resolves once every byte is written and the source has ended cleanly; rejects with the download's failure. */
  readonly finished: Promise<void>;

  private constructor(
    readonly path: string,
    readonly size: number,
    private readonly source: Readable,
    handle: Awaited<ReturnType<typeof open>>,
  ) {
    this.finished = this.fill(handle);
    // Observed by the caller; a follower sees the failure through its own read.
    this.finished.catch(() => undefined);
  }

  /** Creates the file (empty) and starts writing `source` into it. */
  static async download(source: Readable, path: string, size: number): Promise<GrowingFile> {
    let handle;
    try {
      handle = await open(path, 'w');
    } catch (error) {
      source.destroy();
      throw error;
    }
    return new GrowingFile(path, size, source, handle);
  }

  /** Why the download failed, as soon as it has (before `finished` rejects); null until then. */
  get failure(): Error | null {
    return this.failed;
  }

  /** Bytes written so far. */
  get bytesWritten(): number {
    return this.written;
  }

  /** Stops the download (the attempt ended or failed before it completed); followers fail. */
  abort(reason: Error): void {
    if (this.ended) return;
    this.source.destroy(reason);
  }

  private async fill(handle: Awaited<ReturnType<typeof open>>): Promise<void> {
    try {
      for await (const chunk of this.source) {
        const bytes = chunk as Buffer;
        if (this.written + bytes.length > this.size) throw new Error(`the download is longer than its ${this.size} bytes`);
        for (let offset = 0; offset < bytes.length; ) {
          const { bytesWritten } = await handle.write(bytes, offset, bytes.length - offset, this.written + offset);
          offset += bytesWritten;
        }
        this.written += bytes.length;
        this.wake();
      }
      if (this.written !== this.size) throw new Error(`the download ended after ${this.written} of its ${this.size} bytes`);
    } catch (error) {
      this.failed = error instanceof Error ? error : new Error(String(error));
      this.source.destroy();
      throw this.failed;
    } finally {
      this.ended = true;
      await handle.close().catch(() => undefined);
      this.wake();
    }
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }

  /**
   * Resolves with the bytes written once there are more than `offset` of them, or the download has
   * ended well (offset at or past the end: nothing more will come); rejects once it failed.
   */
  private async writtenPast(offset: number): Promise<number> {
    for (;;) {
      if (this.failed) throw this.failed;
      if (this.written > offset || (this.ended && this.written === this.size)) return this.written;
      await new Promise<void>((resolve) => {
        const waiter = () => {
          this.waiters.delete(waiter);
          resolve();
        };
        this.waiters.add(waiter);
      });
    }
  }

  /**
   * Bytes `start` to `end` (inclusive, within the file's size) as they are written: a stream that
   * waits for the download where it has not got yet, and fails when the download does.
   */
  follow(start: number, end: number = this.size - 1): Readable {
    if (start < 0 || end >= this.size || start > end + 1) throw new RangeError(`bytes ${start}-${end} of a ${this.size}-byte file`);
    const file = this;
    async function* bytes(): AsyncGenerator<Buffer> {
      const reader = await open(file.path, 'r');
      try {
        let position = start;
        while (position <= end) {
          const written = await file.writtenPast(position);
          const length = Math.min(written, end + 1) - position;
          if (length <= 0) break;
          const buffer = Buffer.allocUnsafe(Math.min(length, READ_BYTES));
          const { bytesRead } = await reader.read(buffer, 0, buffer.length, position);
          if (bytesRead === 0) throw new Error(`the file ended at ${position} bytes, before the ${written} written`);
          position += bytesRead;
          yield buffer.subarray(0, bytesRead);
        }
      } finally {
        await reader.close().catch(() => undefined);
      }
    }
    return Readable.from(bytes(), { objectMode: false });
  }
}
