import { createHash, randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { eventually, freshNamespace, type TestNamespace } from '../../../test/support/services.js';
import { mediaDir } from '../../../test/support/videos.js';
import { BlobNotFoundError, BlobStore } from './blob-store.js';

const collect = async (stream: Readable): Promise<Buffer> => {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(Buffer.from(part as Uint8Array));
  return Buffer.concat(parts);
};

/** Uploads and their reads against a real Object Store: whole, to a file, by range, empty and missing. */
describe('BlobStore against the NATS Object Store', () => {
  let ns: TestNamespace;
  let blobs: BlobStore;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  // Three 128 KiB chunks and a short one, so reads cross chunk boundaries.
  const content = randomBytes(3 * 128 * 1024 + 4321);

  beforeAll(async () => {
    ns = await freshNamespace();
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    media = await mediaDir();
  });
  afterAll(async () => {
    await ns.cleanup();
    await media.cleanup();
  });

  it('reads back exactly what was stored, streamed or into a file, with its digest', async () => {
    const stored = await blobs.put('uploads/a', Readable.from([content.subarray(0, 1000), content.subarray(1000)]), 'video/mp4');
    expect(stored).toMatchObject({ size: content.length, sha256: createHash('sha256').update(content).digest('hex') });
    const opened = await blobs.open('uploads/a');
    expect((await collect(opened!.stream)).equals(content)).toBe(true);
    const path = join(media.dir, 'a.bin');
    await blobs.downloadToFile('uploads/a', path);
    expect((await readFile(path)).equals(content)).toBe(true);
    // Each read's ordered consumer is deleted when it is done, not left to the server's 5 minutes.
    const jsm = await jetstreamManager(ns.nc);
    await eventually(async () => ((await jsm.consumers.list(`OBJ_${ns.subjects.videoBucket}`).next()).length === 0 ? true : undefined), 5000, 'no consumer left on the bucket');
  });

  it('serves byte ranges across chunk boundaries, and the last byte alone', async () => {
    await blobs.putBytes('uploads/b', content, 'video/mp4');
    for (const [start, end] of [[0, 0], [131_000, 131_100], [128 * 1024 - 1, 2 * 128 * 1024], [content.length - 1, content.length - 1]] as const) {
      const opened = await blobs.open('uploads/b', { start, end });
      expect((await collect(opened!.stream)).equals(content.subarray(start, end + 1))).toBe(true);
    }
  });

  it('reads an empty object as nothing, and a missing one as missing', async () => {
    await blobs.putBytes('uploads/empty', new Uint8Array(0), 'application/octet-stream');
    expect((await collect((await blobs.open('uploads/empty'))!.stream)).length).toBe(0);
    expect(await blobs.open('uploads/none')).toBeNull();
    await expect(blobs.downloadToFile('uploads/none', join(media.dir, 'none'))).rejects.toBeInstanceOf(BlobNotFoundError);
    await blobs.delete('uploads/b');
    expect(await blobs.open('uploads/b')).toBeNull();
  });
});
