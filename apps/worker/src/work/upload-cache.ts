import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';

/** An upload on this worker's disk, shared by the steps of a split job that run here. */
interface Entry<P> {
  /** Its folder, once made. */
  dir: string | null;
  size: number;
  /** The folder made, the download and the probe, once for every step that uses the entry. */
  ready: Promise<CachedUpload<P>>;
  users: number;
  lastUsed: number;
}

/** What a step gets: the upload's folder (its own scratch folders go inside it), its path and what fetching it found. */
export interface CachedUpload<P> {
  dir: string;
  path: string;
  fetched: P;
}

/**
 * The uploads of split jobs, kept on this worker's disk between the steps of the same job it runs
 * (the cut, its parts, the join). Each step needs the whole upload, so a worker making four parts of
 * one video downloaded it four times, through NATS and onto its disk (P7). Keyed by the upload's
 * object name and SHA-256, so an entry can only ever be the bytes the job names.
 *
 * Steps use an entry at once; the first one's fetch (download and probe) serves them all, and one
 * that fails is dropped, so the next step fetches again. An entry no step uses is removed once the
 * cache holds more than `maxBytes`, least recently used first, or once it has been idle `idleMs`.
 */
export class UploadCache<P> {
  private readonly entries = new Map<string, Entry<P>>();
  private readonly timer: NodeJS.Timeout;

  constructor(
    private readonly root: string,
    private readonly maxBytes: number,
    private readonly idleMs: number,
  ) {
    this.timer = setInterval(() => void this.evict(), Math.max(1000, Math.floor(idleMs / 2)));
    this.timer.unref();
  }

  /**
   * Runs `work` on the upload `key` (`size` bytes), fetched into `path` by `fetch` unless an entry
   * holds it already, or is fetching it. A new entry's folder is named from `folderPrefix`.
   */
  async use<T>(key: { objectName: string; sha256: string; size: number }, fetch: (path: string) => Promise<P>, work: (upload: CachedUpload<P>) => Promise<T>, folderPrefix = 'upload-'): Promise<T> {
    const id = `${key.objectName}\n${key.sha256}`;
    let entry = this.entries.get(id);
    if (!entry) {
      // In the map before anything is awaited, so that steps starting together share it.
      const made: Entry<P> = { dir: null, size: key.size, ready: Promise.resolve(null as never), users: 0, lastUsed: Date.now() };
      made.ready = (async () => {
        await mkdir(this.root, { recursive: true });
        const dir = await mkdtemp(join(this.root, folderPrefix));
        made.dir = dir;
        const path = join(dir, 'input');
        return { dir, path, fetched: await fetch(path) };
      })();
      made.ready.catch(() => {
        if (this.entries.get(id) === made) this.entries.delete(id);
        // Its users fail with it; the folder goes once the last has stopped.
        void this.removeWhenUnused(made);
      });
      this.entries.set(id, made);
      entry = made;
    }
    entry.users++;
    try {
      return await work(await entry.ready);
    } finally {
      entry.users--;
      entry.lastUsed = Date.now();
      void this.evict();
    }
  }

  /** How many uploads the cache holds (fetched or being fetched). */
  get size(): number {
    return this.entries.size;
  }

  /** Removes every entry no step uses now, and stops the idle timer. */
  async close(): Promise<void> {
    clearInterval(this.timer);
    const idle = [...this.entries].filter(([, entry]) => entry.users === 0);
    for (const [id, entry] of idle) {
      this.entries.delete(id);
      if (entry.dir) await rm(entry.dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  /** Drops idle entries: those unused for idleMs, and, while the cache is over maxBytes, the least recently used. */
  private async evict(): Promise<void> {
    let total = [...this.entries.values()].reduce((sum, entry) => sum + entry.size, 0);
    const now = Date.now();
    const idle = [...this.entries].filter(([, entry]) => entry.users === 0).sort((a, b) => a[1].lastUsed - b[1].lastUsed);
    for (const [id, entry] of idle) {
      if (total <= this.maxBytes && now - entry.lastUsed < this.idleMs) continue;
      this.entries.delete(id);
      total -= entry.size;
      if (entry.dir) await rm(entry.dir, { recursive: true, force: true }).catch(() => undefined);
    }
  }

  private async removeWhenUnused(entry: Entry<P>): Promise<void> {
    while (entry.users > 0) await new Promise((resolve) => setTimeout(resolve, 100));
    if (entry.dir) await rm(entry.dir, { recursive: true, force: true }).catch(() => undefined);
  }
}
