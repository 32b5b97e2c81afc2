import { randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';

const CHUNK = 1024 * 1024;

/**
 * `total` bytes made on the fly from one random 1 MiB block, so that a 2 GiB upload never touches
 * the disk or holds more than a chunk in memory. (The content is irrelevant: nothing compresses it.)
 */
export function generatedBytes(total: number): Readable {
  const block = randomBytes(CHUNK);
  let sent = 0;
  return new Readable({
    highWaterMark: CHUNK,
    read() {
      if (sent >= total) return void this.push(null);
      const size = Math.min(CHUNK, total - sent);
      sent += size;
      // A fresh copy per chunk: a consumer may hold on to it while the next one is being read.
      this.push(Buffer.from(block.subarray(0, size)));
    },
  });
}

export const MiB = 1024 * 1024;
export const GiB = 1024 * MiB;
