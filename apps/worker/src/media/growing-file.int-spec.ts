import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { PassThrough, type Readable } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { parseConfig, workerEnvSchema } from '@app/config';
import { ffmpeg, makeVideo, mediaDir } from '../../../../test/support/videos.js';
import { FfprobeRunner } from './ffprobe.runner.js';
import { GrowingFile } from './growing-file.js';
import { serveGrowingFile } from './growing-file.server.js';

/** A download fed by the test, piece by piece, into a real file that real readers follow. */
describe('GrowingFile', () => {
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let count = 0;
  const fresh = () => join(media.dir, `download-${++count}`);

  beforeAll(async () => {
    media = await mediaDir();
  });

  afterAll(async () => {
    await media?.cleanup();
  });

  /** Everything a follower reads, and how much of the file was written each time a piece arrived. */
  async function collect(stream: Readable, file: GrowingFile): Promise<{ bytes: Buffer; writtenAt: number[] }> {
    const pieces: Buffer[] = [];
    const writtenAt: number[] = [];
    for await (const piece of stream) {
      pieces.push(piece as Buffer);
      writtenAt.push(file.bytesWritten);
    }
    return { bytes: Buffer.concat(pieces), writtenAt };
  }

  /** Writes `bytes` in uneven pieces (1 byte to 96 KiB), letting readers run between them. */
  async function feed(source: PassThrough, bytes: Buffer, upTo = bytes.length): Promise<void> {
    const sizes = [1, 7, 65_536, 13, 98_304, 4096, 300];
    for (let offset = 0, k = 0; offset < upTo; k++) {
      const size = Math.min(sizes[k % sizes.length]!, upTo - offset);
      source.write(bytes.subarray(offset, offset + size));
      offset += size;
      await nextTurn();
      await nextTurn();
    }
  }

  it('a follower sees every byte in order, reading along while the file grows, from the start or from the middle', async () => {
    const bytes = randomBytes(1_000_003);
    const source = new PassThrough();
    const file = await GrowingFile.download(source, fresh(), bytes.length);
    // The whole-file follower is waited for after each piece, so it provably reads along.
    let received = 0;
    const pieces: Buffer[] = [];
    const whole = (async () => {
      for await (const piece of file.follow(0)) {
        pieces.push(piece as Buffer);
        received += (piece as Buffer).length;
      }
    })();
    const middle = collect(file.follow(300_000, 700_000), file);
    const sizes = [1, 7, 65_536, 13, 98_304, 4096, 300];
    for (let offset = 0, k = 0; offset < bytes.length; k++) {
      const size = Math.min(sizes[k % sizes.length]!, bytes.length - offset);
      source.write(bytes.subarray(offset, offset + size));
      offset += size;
      while (received < offset) await nextTurn();
      // Nothing past what was written: a follower never reads ahead of the download.
      expect(received).toBe(offset);
    }
    source.end();
    await file.finished;
    await whole;
    expect(Buffer.concat(pieces).equals(bytes)).toBe(true);
    expect((await middle).bytes.equals(bytes.subarray(300_000, 700_001))).toBe(true);
    expect(await readFile(file.path)).toEqual(bytes);
  });

  it('a follower waiting for bytes fails with the download\'s own error, and so does finished', async () => {
    const bytes = randomBytes(400_000);
    const source = new PassThrough();
    const file = await GrowingFile.download(source, fresh(), bytes.length);
    const reading = collect(file.follow(0), file);
    await feed(source, bytes, 200_000);
    source.destroy(new Error('chunk 7 of the object is gone'));
    await expect(reading).rejects.toThrow('chunk 7 of the object is gone');
    await expect(file.finished).rejects.toThrow('chunk 7 of the object is gone');
    expect(file.failure?.message).toBe('chunk 7 of the object is gone');
    // A follower that starts after the failure fails too, even for bytes that were written.
    await expect(collect(file.follow(0, 10), file)).rejects.toThrow('chunk 7 of the object is gone');
  });

  it('a download that ends short of its size, or runs past it, fails instead of passing for the whole file', async () => {
    const bytes = randomBytes(50_000);
    const short = new PassThrough();
    const shortFile = await GrowingFile.download(short, fresh(), bytes.length);
    const reading = collect(shortFile.follow(0), shortFile);
    await feed(short, bytes, 49_990);
    short.end();
    await expect(shortFile.finished).rejects.toThrow('the download ended after 49990 of its 50000 bytes');
    await expect(reading).rejects.toThrow('ended after 49990');

    const long = new PassThrough();
    const longFile = await GrowingFile.download(long, fresh(), 10);
    long.end(bytes.subarray(0, 11));
    await expect(longFile.finished).rejects.toThrow('the download is longer than its 10 bytes');
  });

  it('abort stops the download, and its followers with it', async () => {
    const source = new PassThrough();
    const file = await GrowingFile.download(source, fresh(), 1000);
    const reading = collect(file.follow(0), file);
    source.write(randomBytes(100));
    file.abort(new Error('the job was cancelled'));
    await expect(file.finished).rejects.toThrow();
    await expect(reading).rejects.toThrow();
    expect(source.destroyed).toBe(true);
  });

  it('an empty download is complete at once, and a follower of it reads nothing', async () => {
    const source = new PassThrough();
    const file = await GrowingFile.download(source, fresh(), 0);
    source.end();
    await file.finished;
    expect((await collect(file.follow(0, -1), file)).bytes.length).toBe(0);
  });

  describe('served over loopback HTTP', () => {
    it('answers a byte range before its bytes are written, sending them as they come; only at its own path', async () => {
      const bytes = randomBytes(300_000);
      const source = new PassThrough();
      const file = await GrowingFile.download(source, fresh(), bytes.length);
      const served = await serveGrowingFile(file);
      try {
        expect(served.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/[0-9a-f]{32}$/);
        const asked = fetch(served.url, { headers: { Range: 'bytes=250000-' } });
        await feed(source, bytes);
        source.end();
        const response = await asked;
        expect(response.status).toBe(206);
        expect(response.headers.get('content-range')).toBe(`bytes 250000-299999/${bytes.length}`);
        expect(Buffer.from(await response.arrayBuffer()).equals(bytes.subarray(250_000))).toBe(true);
        const whole = await fetch(served.url);
        expect(whole.status).toBe(200);
        expect(Buffer.from(await whole.arrayBuffer()).equals(bytes)).toBe(true);
        expect((await fetch(`${new URL(served.url).origin}/other`)).status).toBe(404);
        expect((await fetch(served.url, { headers: { Range: 'bytes=300000-' } })).status).toBe(416);
      } finally {
        await served.close();
      }
    });

    it('cuts a response off when the download fails, so the reader sees an error, never a short body', async () => {
      const bytes = randomBytes(200_000);
      const source = new PassThrough();
      const file = await GrowingFile.download(source, fresh(), bytes.length);
      const served = await serveGrowingFile(file);
      try {
        const response = await fetch(served.url);
        expect(response.headers.get('content-length')).toBe(String(bytes.length));
        const body = response.arrayBuffer();
        await feed(source, bytes, 100_000);
        source.destroy(new Error('the object store went away'));
        await expect(body).rejects.toThrow();
      } finally {
        await served.close();
      }
    });

    it('ffprobe reads an MP4 whose index comes last while it downloads, and says what it says of the finished file', async () => {
      const video = await makeVideo(join(media.dir, 'index-last.mp4'), { seconds: 2, width: 160, height: 120, fps: 10 });
      const bytes = await readFile(video);
      // ffmpeg writes the index (moov) after the frames (mdat) unless told to move it.
      expect(bytes.indexOf('moov')).toBeGreaterThan(bytes.indexOf('mdat'));
      const runner = new FfprobeRunner(parseConfig(workerEnvSchema, {}));
      const signal = new AbortController().signal;
      const fromFile = await runner.probe({ path: video, demuxer: 'mov', maxDurationSec: 60 }, signal);

      const source = new PassThrough();
      const file = await GrowingFile.download(source, fresh(), bytes.length);
      const served = await serveGrowingFile(file);
      try {
        const probing = runner.probe({ path: file.path, demuxer: 'mov', maxDurationSec: 60, following: { url: served.url, downloaded: file.finished } }, signal);
        await feed(source, bytes);
        source.end();
        const following = await probing;
        expect(following.streams).toEqual(fromFile.streams);
        expect({ ...following.format, filename: null }).toEqual({ ...fromFile.format, filename: null });
      } finally {
        await served.close();
      }
    });

    it('ffprobe counts the packets of a Matroska file (its header states no frame count) while it downloads', async () => {
      const video = join(media.dir, 'count.mkv');
      await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=64x48:rate=10', '-t', '3', '-c:v', 'mpeg4', video]);
      const bytes = await readFile(video);
      const runner = new FfprobeRunner(parseConfig(workerEnvSchema, {}));
      const source = new PassThrough();
      const file = await GrowingFile.download(source, fresh(), bytes.length);
      const served = await serveGrowingFile(file);
      try {
        const probing = runner.probe({ path: file.path, demuxer: 'matroska', maxDurationSec: 60, following: { url: served.url, downloaded: file.finished } }, new AbortController().signal);
        await feed(source, bytes);
        source.end();
        expect((await probing).streams?.[0]?.nb_read_packets).toBe('30');
      } finally {
        await served.close();
      }
    });

    it('ffprobe reading a download that fails stops with an error instead of waiting for bytes that will not come', async () => {
      const video = await makeVideo(join(media.dir, 'cut-off.mp4'), { seconds: 2, width: 160, height: 120, fps: 10 });
      const bytes = await readFile(video);
      const runner = new FfprobeRunner(parseConfig(workerEnvSchema, {}));
      const source = new PassThrough();
      const file = await GrowingFile.download(source, fresh(), bytes.length);
      const served = await serveGrowingFile(file);
      try {
        const probing = runner.probe({ path: file.path, demuxer: 'mov', maxDurationSec: 60, following: { url: served.url, downloaded: file.finished } }, new AbortController().signal);
        await feed(source, bytes, Math.floor(bytes.length / 2));
        source.destroy(new Error('lost'));
        await expect(probing).rejects.toThrow();
        expect(file.failure?.message).toBe('lost');
      } finally {
        await served.close();
      }
    });
  });
});
