import { randomBytes } from 'node:crypto';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { BlobStore } from '@app/blob-store';
import { freshNamespace, type TestNamespace } from '../../../../test/support/services.js';
import { mediaDir } from '../../../../test/support/videos.js';
import { artifactPrefix, ObjectStoreArtifactWriter } from './artifact-writer.js';

/** An attempt's artifacts in a real Object Store. */
describe('ObjectStoreArtifactWriter', () => {
  let ns: TestNamespace;
  let blobs: BlobStore;
  let media: Awaited<ReturnType<typeof mediaDir>>;

  beforeAll(async () => {
    ns = await freshNamespace();
    blobs = await BlobStore.open(ns.nc, ns.subjects.videoBucket);
    media = await mediaDir();
  });

  afterAll(async () => {
    await ns.cleanup();
    await media.cleanup();
  });

  it('discard waits for the uploads still under way (a tool that failed beside them), so none lands after it', async () => {
    const writer = new ObjectStoreArtifactWriter(blobs, artifactPrefix('job-discard', 1));
    const paths = await Promise.all(
      ['a.jpg', 'b.jpg', 'c.jpg'].map(async (name) => {
        const path = join(media.dir, name);
        await writeFile(path, randomBytes(300 * 1024));
        return { name, path };
      }),
    );
    await writer.putFile('first.jpg', paths[0]!.path, 'image/jpeg');
    // Two more begin; the attempt fails before they are done, and its cleanup runs at once.
    const late = paths.slice(1).map(({ name, path }) => writer.putFile(name, path, 'image/jpeg'));
    await writer.discard();
    await Promise.allSettled(late);
    expect((await blobs.names()).filter((name) => name.startsWith(artifactPrefix('job-discard', 1)))).toEqual([]);
  });

  it('lists the artifacts in the order their uploads began, whatever order they end in', async () => {
    const writer = new ObjectStoreArtifactWriter(blobs, artifactPrefix('job-order', 1));
    const big = join(media.dir, 'big.bin');
    const small = join(media.dir, 'small.bin');
    await writeFile(big, randomBytes(2 * 1024 * 1024));
    await writeFile(small, randomBytes(10));
    await Promise.all([writer.putFile('big.bin', big, 'application/octet-stream'), writer.putFile('small.bin', small, 'application/octet-stream')]);
    expect(writer.artifacts().map((ref) => ref.name)).toEqual(['big.bin', 'small.bin']);
  });
});
