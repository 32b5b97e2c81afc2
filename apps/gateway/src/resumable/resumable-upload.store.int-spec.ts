import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freshName, freshNamespace, type TestNamespace } from '../../../../test/support/services.js';
import { KvUploadLocker } from './kv-upload.locker.js';
import { CHUNK_BYTES, ChecksumMismatchError, ResumableUploadStore } from './resumable-upload.store.js';
import { UploadStateConflict } from './upload-state.js';

const collect = async (stream: Readable): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Uint8Array));
  return Buffer.concat(parts);
};

/** A body that yields `data` in 64 KiB pieces, then fails (a client that went away) if `failAfter` is set. */
function body(data: Buffer, failAfter?: number): Readable {
  async function* pieces() {
    for (let at = 0; at < data.length; at += 64 * 1024) {
      if (failAfter !== undefined && at >= failAfter) throw new Error('the client went away');
      yield data.subarray(at, at + 64 * 1024);
    }
  }
  return Readable.from(pieces());
}

/** The store against real JetStream: what a PATCH commits, what another instance sees, what is deleted. */
describe('ResumableUploadStore against NATS', () => {
  let ns: TestNamespace;
  let store: ResumableUploadStore;
  let other: ResumableUploadStore;
  const content = randomBytes(3 * CHUNK_BYTES + 12_345);

  const fresh = async (length = content.length, expiresAt = new Date(Date.now() + 60_000)) => {
    const id = freshName('u');
    await store.create({ id, tenant: 'acme', length, metadata: { filename: 'a.mp4' }, createdAt: new Date(), expiresAt });
    return id;
  };

  beforeAll(async () => {
    ns = await freshNamespace();
    store = await ResumableUploadStore.open(ns.nc, ns.subjects, { expiresMs: 60_000 });
    // A second gateway's instance, on the same bucket and stream.
    other = await ResumableUploadStore.open(ns.nc, ns.subjects, { expiresMs: 60_000 });
  });
  afterAll(() => ns.cleanup());

  it('commits what JetStream acknowledged when the body fails, and another instance resumes from there', async () => {
    const id = await fresh();
    await expect(store.append(id, 0, body(content, 2 * CHUNK_BYTES))).rejects.toThrow('went away');
    const { state } = (await other.get(id))!;
    expect(state.offset).toBe(2 * CHUNK_BYTES);
    const offset = await other.append(id, state.offset, body(content.subarray(state.offset)));
    expect(offset).toBe(content.length);
    const { state: done } = (await store.get(id))!;
    expect(done.segments).toHaveLength(2);
    const read = await collect(store.read(done));
    expect(createHash('sha256').update(read).digest('hex')).toBe(createHash('sha256').update(content).digest('hex'));
  });

  it('refuses a body at a stale offset, and one overtaken by another writer', async () => {
    const id = await fresh();
    await store.append(id, 0, body(content.subarray(0, 1000)));
    await expect(other.append(id, 0, body(content.subarray(0, 1000)))).rejects.toBeInstanceOf(UploadStateConflict);
    expect((await store.get(id))!.state.offset).toBe(1000);
  });

  it('keeps nothing of a body that does not match its checksum, nor of one that fails with one', async () => {
    const id = await fresh();
    const part = content.subarray(0, CHUNK_BYTES + 10);
    const wrong = createHash('sha256').update('x').digest('base64');
    await expect(store.append(id, 0, body(part), { sha256: wrong })).rejects.toBeInstanceOf(ChecksumMismatchError);
    await expect(store.append(id, 0, body(part, CHUNK_BYTES), { sha256: createHash('sha256').update(part).digest('base64') })).rejects.toThrow('went away');
    expect((await store.get(id))!.state).toMatchObject({ offset: 0, segments: [] });
    expect(await store.append(id, 0, body(part), { sha256: createHash('sha256').update(part).digest('base64') })).toBe(part.length);
  });

  it('judges the first bytes once there are enough of them, across PATCHes, and keeps the type', async () => {
    const id = await fresh();
    const seen: number[] = [];
    const inspectHead = (head: Buffer) => (seen.push(head.length), 'video/mp4');
    await store.append(id, 0, body(content.subarray(0, 1000)), { inspectHead, headBytes: 4096 });
    expect(seen).toEqual([]);
    expect(Buffer.from((await store.get(id))!.state.head, 'base64').equals(content.subarray(0, 1000))).toBe(true);
    await store.append(id, 1000, body(content.subarray(1000, 9000)), { inspectHead, headBytes: 4096 });
    expect(seen).toEqual([4096]);
    expect((await store.get(id))!.state).toMatchObject({ contentType: 'video/mp4', head: '' });
  });

  it('sweeps expired uploads, bytes and state, and leaves the others', async () => {
    const expired = await fresh(content.length, new Date(Date.now() - 1000));
    const alive = await fresh();
    await store.append(expired, 0, body(content.subarray(0, 5000)));
    await store.append(alive, 0, body(content.subarray(0, 5000)));
    expect(await other.sweep(new Date())).toBeGreaterThanOrEqual(1);
    expect(await store.get(expired)).toBeNull();
    expect((await store.get(alive))!.state.offset).toBe(5000);
    await store.remove(alive);
    expect(await store.get(alive)).toBeNull();
  });
});

describe('KvUploadLocker against NATS', () => {
  let ns: TestNamespace;
  beforeAll(async () => {
    ns = await freshNamespace();
  });
  afterAll(() => ns.cleanup());

  it('lets one holder at a time across lockers, and asks the holder to let go when another waits', async () => {
    const [a, b] = await Promise.all([KvUploadLocker.open(ns.nc, ns.subjects), KvUploadLocker.open(ns.nc, ns.subjects)]);
    const held = a.newLock('u1');
    const released: string[] = [];
    await held.lock(new AbortController().signal, () => void released.push('asked'));
    const waiting = b.newLock('u1');
    const order: string[] = [];
    const taken = waiting.lock(new AbortController().signal, () => undefined).then(() => order.push('b took it'));
    // b marked the lock wanted; a's next refresh sees it and asks its request to finish.
    while (released.length === 0) await new Promise((r) => setTimeout(r, 100));
    order.push('a lets go');
    await held.unlock();
    await taken;
    expect(order).toEqual(['a lets go', 'b took it']);
    await waiting.unlock();
  }, 20_000);
});
