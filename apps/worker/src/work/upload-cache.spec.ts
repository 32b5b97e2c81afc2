import { access, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals';
import { UploadCache } from './upload-cache.js';

const exists = (path: string) => access(path).then(() => true, () => false);

describe('the upload cache of split jobs', () => {
  let root: string;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), 'framewire-upload-cache-'));
  });
  afterEach(() => rm(root, { recursive: true, force: true }));

  const upload = (name: string, size = 10) => ({ objectName: `uploads/${name}/1`, sha256: 'a'.repeat(64), size });

  it('fetches an upload once for the steps that use it at once or after, each in the same folder', async () => {
    const cache = new UploadCache<string>(root, 1000, 60_000);
    let fetches = 0;
    const fetch = async (path: string) => {
      fetches++;
      await new Promise((resolve) => setTimeout(resolve, 20));
      await writeFile(path, 'video');
      return 'probed';
    };
    const seen = await Promise.all([1, 2, 3].map(() => cache.use(upload('a'), fetch, async (u) => ({ dir: u.dir, fetched: u.fetched, there: await exists(u.path) }))));
    await cache.use(upload('a'), fetch, async () => undefined);
    expect(fetches).toBe(1);
    expect(new Set(seen.map((s) => s.dir)).size).toBe(1);
    expect(seen.every((s) => s.fetched === 'probed' && s.there)).toBe(true);
    await cache.close();
  });

  it('drops an upload whose fetch failed, for everyone waiting on it, and fetches it again for the next step', async () => {
    const cache = new UploadCache<string>(root, 1000, 60_000);
    let fetches = 0;
    const failing = async () => {
      fetches++;
      throw new Error('download failed');
    };
    await expect(Promise.all([cache.use(upload('b'), failing, async () => 1), cache.use(upload('b'), failing, async () => 2)])).rejects.toThrow('download failed');
    expect(fetches).toBe(1);
    expect(cache.size).toBe(0);
    expect(await cache.use(upload('b'), async (path) => (await writeFile(path, 'x'), 'ok'), async (u) => u.fetched)).toBe('ok');
    await cache.close();
  });

  it('another upload, or the same name with other bytes, is another entry; over its size the least recently used idle one goes, folder and all', async () => {
    const cache = new UploadCache<string>(root, 25, 60_000);
    const fetch = async (path: string) => (await writeFile(path, 'v'), 'ok');
    const a = await cache.use(upload('a'), fetch, async (u) => u.dir);
    await cache.use({ ...upload('a'), sha256: 'b'.repeat(64) }, fetch, async () => undefined);
    expect(cache.size).toBe(2);
    await new Promise((resolve) => setTimeout(resolve, 5));
    // A third of 10 bytes puts it over 25: the oldest idle one (a) is removed.
    await cache.use(upload('c'), fetch, async () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(cache.size).toBe(2);
    expect(await exists(a)).toBe(false);
    await cache.close();
    expect(cache.size).toBe(0);
  });

  it('removes an upload no step has used for its idle time', async () => {
    const cache = new UploadCache<string>(root, 1000, 1);
    const dir = await cache.use(upload('d'), async (path) => (await writeFile(path, 'v'), 'ok'), async (u) => u.dir);
    await new Promise((resolve) => setTimeout(resolve, 20));
    await cache.use(upload('e'), async (path) => (await writeFile(path, 'v'), 'ok'), async () => undefined);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await exists(dir)).toBe(false);
    await cache.close();
  });
});
