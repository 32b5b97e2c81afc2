import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import { BlobStore } from '@app/blob-store';
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
  let blobs: BlobStore;
  /** Messages on an upload's chunk subject in the video bucket's stream, committed or not. */
  const chunksOn = async (nuid: string) => {
    const jsm = await jetstreamManager(ns.nc);
    const subject = `$O.${ns.subjects.videoBucket}.C.${nuid}`;
    const info = await jsm.streams.info(`OBJ_${ns.subjects.videoBucket}`, { subjects_filter: subject });
    return info.state.subjects?.[subject] ?? 0;
  };
  const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');
  const content = randomBytes(3 * CHUNK_BYTES + 12_345);

  const fresh = async (length = content.length, expiresAt = new Date(Date.now() + 60_000)) => {
    const id = freshName('u');
    await store.create({ id, tenant: 'acme', length, metadata: { filename: 'a.mp4' }, createdAt: new Date(), expiresAt });
    return id;
  };

  beforeAll(async () => {
    ns = await freshNamespace();
    store = await ResumableUploadStore.open(ns.nc, ns.subjects, {});
    // A second gateway's instance, on the same bucket and stream.
    other = await ResumableUploadStore.open(ns.nc, ns.subjects, {});
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
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
    expect(done).toMatchObject({ offset: content.length, chunks: 4 });
    expect(await chunksOn(done.nuid)).toBe(4);
    const read = await collect(store.read(done));
    expect(sha256(read)).toBe(sha256(content));
  });

  it('resumes after an instance that died mid-PATCH (chunks published, never committed): the object is exact', async () => {
    const id = await fresh();
    const cut = CHUNK_BYTES + 5000;
    expect(await store.append(id, 0, body(content.subarray(0, cut)))).toBe(cut);
    const { state: before } = (await store.get(id))!;
    // The instance that died: its chunks reached the bucket, its commit never happened.
    const js = jetstream(ns.nc);
    for (let i = 0; i < 3; i++) await js.publish(store.chunkSubject(before), randomBytes(CHUNK_BYTES));
    expect(await chunksOn(before.nuid)).toBe(before.chunks + 3);
    // Another instance resumes from the committed offset: the dead one's chunks are gone first.
    expect(await other.append(id, cut, body(content.subarray(cut)))).toBe(content.length);
    const { state } = (await other.get(id))!;
    expect(await chunksOn(state.nuid)).toBe(state.chunks);
    // Adopted as an object without a copy: size, digest and bytes are the upload's, read as a put one is.
    await other.trimUncommitted(state);
    const adopted = await blobs.adopt('uploads/adopted/clip', { nuid: state.nuid, size: state.offset, chunks: state.chunks, digest: await other.digestOf(state), maxChunkSize: CHUNK_BYTES }, 'video/mp4');
    expect(adopted).toMatchObject({ size: content.length, sha256: sha256(content) });
    expect(await blobs.info('uploads/adopted/clip')).toEqual(adopted);
    const opened = await blobs.open('uploads/adopted/clip');
    expect(sha256(await collect(opened!.stream))).toBe(sha256(content));
    // The Object Store client reads it too, with the same content type header as a put object.
    const put = await blobs.putBytes('uploads/put/clip', content, 'video/mp4');
    const os = await new Objm(ns.nc).open(ns.subjects.videoBucket);
    const [viaClient, putInfo] = [await os.info('uploads/adopted/clip'), await os.info('uploads/put/clip')];
    expect(viaClient).toMatchObject({ size: putInfo!.size, digest: putInfo!.digest, deleted: false });
    expect(viaClient!.headers?.get('Content-Type')).toBe('video/mp4');
    expect(sha256(await os.getBlob('uploads/adopted/clip') as Uint8Array)).toBe(put.sha256);
    // Adopting again (a retried completion) leaves one object.
    await blobs.adopt('uploads/adopted/clip', { nuid: state.nuid, size: state.offset, chunks: state.chunks, digest: await other.digestOf(state), maxChunkSize: CHUNK_BYTES }, 'video/mp4');
    expect((await blobs.names()).filter((n) => n === 'uploads/adopted/clip')).toHaveLength(1);
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
    const { state } = (await store.get(id))!;
    expect(state).toMatchObject({ offset: 0, chunks: 0, lastSeq: 0 });
    // Not one extra chunk is left in the bucket's chunk subject.
    expect(await chunksOn(state.nuid)).toBe(0);
    expect(await store.append(id, 0, body(part), { sha256: createHash('sha256').update(part).digest('base64') })).toBe(part.length);
    expect(await chunksOn(state.nuid)).toBe(2);
    // A mismatch past committed chunks deletes its own chunks only.
    const more = content.subarray(part.length, part.length + 3000);
    await expect(store.append(id, part.length, body(more), { sha256: wrong })).rejects.toBeInstanceOf(ChecksumMismatchError);
    expect(await chunksOn(state.nuid)).toBe(2);
    expect(sha256(await collect(store.read((await store.get(id))!.state)))).toBe(sha256(part));
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
    const [expiredNuid, aliveNuid] = [(await store.get(expired))!.state.nuid, (await store.get(alive))!.state.nuid];
    expect(await other.sweep(new Date())).toBeGreaterThanOrEqual(1);
    expect(await store.get(expired)).toBeNull();
    expect(await chunksOn(expiredNuid)).toBe(0);
    expect((await store.get(alive))!.state.offset).toBe(5000);
    expect(await chunksOn(aliveNuid)).toBe(1);
    await store.remove(alive);
    expect(await store.get(alive)).toBeNull();
    expect(await chunksOn(aliveNuid)).toBe(0);
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
