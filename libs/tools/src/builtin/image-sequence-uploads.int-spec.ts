import { spawn } from 'node:child_process';
import { mkdir, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { ArtifactRef } from '@app/contracts';
import { mediaDir } from '../../../../test/support/videos.js';
import type { ArtifactWriter } from '../tool.js';
import { ImageSequenceUploads } from './image-sequence-uploads.js';

/**
 * A writer that records each upload as it is asked for: the name, the file's size at that moment,
 * and whether ffmpeg was still running then. (The Object Store's own writer is tested in the worker;
 * here what matters is when and in what order uploads are asked for.)
 */
class RecordingWriter implements ArtifactWriter {
  readonly calls: Array<{ name: string; path: string; size: number; whileRunning: boolean }> = [];
  running = true;
  async putFile(name: string, path: string, contentType: string): Promise<ArtifactRef> {
    const whileRunning = this.running;
    const { size } = await stat(path);
    this.calls.push({ name, path, size, whileRunning });
    return { name, bucket: 'b', objectName: name, size, contentType, sha256: '' };
  }
}

describe('ImageSequenceUploads, on the files of a real ffmpeg', () => {
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let count = 0;

  beforeAll(async () => {
    media = await mediaDir();
  });

  afterAll(async () => {
    await media?.cleanup();
  });

  /** ffmpeg writing `frames` JPEGs at 10 per second of its input (`-re`), so that it runs for a while. */
  function writeSequence(dir: string, frames: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const child = spawn('ffmpeg', ['-v', 'error', '-nostdin', '-re', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-frames:v', String(frames), join(dir, 'thumb-%06d.jpg')], { stdio: 'ignore' });
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`ffmpeg exited ${code}`))));
    });
  }

  it('asks for each file once the next one has appeared, while ffmpeg still runs, in order and whole; the rest once it has ended', async () => {
    const dir = join(media.dir, String(++count));
    await mkdir(dir);
    const writer = new RecordingWriter();
    const uploads = new ImageSequenceUploads(writer, dir, 'thumb', 'image/jpeg', (n) => `frame-${n}.jpg`, 20, 3);
    uploads.watch();
    await writeSequence(dir, 12);
    writer.running = false;
    const { started, done } = uploads.uploadAll(Array.from({ length: 12 }, (_, i) => i + 1));
    await started;
    await done;
    await uploads.settle();
    expect(writer.calls.map((call) => call.name)).toEqual(Array.from({ length: 12 }, (_, i) => `frame-${i + 1}.jpg`));
    expect(writer.calls.filter((call) => call.whileRunning).length).toBeGreaterThan(0);
    // The last file has no successor: it is asked for only after ffmpeg has ended.
    expect(writer.calls.at(-1)!.whileRunning).toBe(false);
    for (const call of writer.calls) expect(call.size).toBe((await stat(call.path)).size);
    expect(uploads.strays(new Set(Array.from({ length: 12 }, (_, i) => i + 1)))).toEqual([]);
    expect((await readdir(dir)).length).toBe(12);
  });

  it('never starts a file past its limit early, and reports one it started that nobody asked for', async () => {
    const dir = join(media.dir, String(++count));
    await mkdir(dir);
    const writer = new RecordingWriter();
    const uploads = new ImageSequenceUploads(writer, dir, 'thumb', 'image/jpeg', (n) => `frame-${n}.jpg`, 4, 8);
    uploads.watch();
    await writeSequence(dir, 8);
    writer.running = false;
    expect(writer.calls.filter((call) => call.whileRunning).map((call) => call.name).every((name) => Number(/\d+/.exec(name)![0]) <= 4)).toBe(true);
    await uploads.uploadAll([1, 2, 3]).done;
    await uploads.settle();
    // File 4 was started early (file 5 appeared 300 ms before ffmpeg ended) but not asked for.
    expect(writer.calls.map((call) => call.name).sort()).toEqual(['frame-1.jpg', 'frame-2.jpg', 'frame-3.jpg', 'frame-4.jpg']);
    expect(uploads.strays(new Set([1, 2, 3]))).toEqual([4]);
  });

  it('a failed upload fails uploadAll with its error, and settle waits for every upload still under way', async () => {
    const dir = join(media.dir, String(++count));
    await mkdir(dir);
    await writeSequence(dir, 6);
    let underWay = 0;
    const writer: ArtifactWriter = {
      async putFile(name) {
        underWay++;
        try {
          for (let i = 0; i < 20; i++) await nextTurn();
          if (name === 'frame-2.jpg') throw new Error('the store refused frame 2');
          return { name, bucket: 'b', objectName: name, size: 0, contentType: 'image/jpeg', sha256: '' };
        } finally {
          underWay--;
        }
      },
    };
    const uploads = new ImageSequenceUploads(writer, dir, 'thumb', 'image/jpeg', (n) => `frame-${n}.jpg`, 6, 6);
    await expect(uploads.uploadAll([1, 2, 3, 4, 5, 6]).done).rejects.toThrow('the store refused frame 2');
    await uploads.settle();
    expect(underWay).toBe(0);
  });
});
