import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mediaDir } from '../../../../test/support/videos.js';
import { guardUpload } from './media-guard.js';

const run = promisify(execFile);

/** Streams `file` through guardUpload in 64 KiB chunks; resolves with what came out, or the error code. */
async function guard(file: Buffer): Promise<{ contentType: string; bytes: number } | { code: string }> {
  const chunks = Array.from({ length: Math.ceil(file.length / 65536) }, (_, i) => file.subarray(i * 65536, (i + 1) * 65536));
  try {
    const { stream, media } = await guardUpload(Readable.from(chunks));
    let bytes = 0;
    await pipeline(stream, new Writable({ write: (chunk: Buffer, _e, done) => ((bytes += chunk.length), done()) }));
    return { contentType: media.contentType, bytes };
  } catch (error) {
    return { code: (error as { code?: string }).code ?? String(error) };
  }
}

/** Real files from ffmpeg, in every container the gateway takes, and some it must refuse. */
describe('upload guard on files ffmpeg writes', () => {
  let media: Awaited<ReturnType<typeof mediaDir>>;
  const files = new Map<string, Buffer>();
  const make = async (name: string, args: string[]) => {
    const path = join(media.dir, name);
    await run('ffmpeg', ['-v', 'error', '-y', '-f', 'lavfi', '-i', 'testsrc=size=160x120:rate=10', '-t', '0.5', ...args, path]);
    files.set(name, await readFile(path));
  };

  beforeAll(async () => {
    media = await mediaDir();
    await Promise.all([
      make('clip.mp4', ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p']),
      make('faststart.mp4', ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', '+faststart']),
      make('fragmented.mp4', ['-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-movflags', 'frag_keyframe+empty_moov']),
      make('clip.mov', ['-c:v', 'mpeg4']),
      make('clip.webm', ['-c:v', 'libvpx', '-deadline', 'realtime', '-b:v', '100k']),
      make('clip.mkv', ['-c:v', 'mpeg4']),
      make('clip.avi', ['-c:v', 'mpeg4']),
      make('clip.ts', ['-c:v', 'mpeg2video']),
    ]);
  }, 60_000);
  afterAll(() => media?.cleanup());

  it.each([
    ['clip.mp4', 'video/mp4'],
    ['faststart.mp4', 'video/mp4'],
    ['fragmented.mp4', 'video/mp4'],
    ['clip.mov', 'video/quicktime'],
    ['clip.webm', 'video/webm'],
    ['clip.mkv', 'video/x-matroska'],
    ['clip.avi', 'video/x-msvideo'],
    ['clip.ts', 'video/mp2t'],
  ])('passes %s whole, as %s', async (name, contentType) => {
    const file = files.get(name)!;
    expect(await guard(file)).toEqual({ contentType, bytes: file.length });
  });

  it.each([
    ['clip.mp4', 'INVALID_MEDIA'],
    ['faststart.mp4', 'INVALID_MEDIA'],
    ['clip.mov', 'INVALID_MEDIA'],
    ['clip.avi', 'INVALID_MEDIA'],
  ])('refuses the first half of %s with %s', async (name, code) => {
    const file = files.get(name)!;
    expect(await guard(file.subarray(0, Math.floor(file.length / 2)))).toEqual({ code });
  });

  it('refuses a text file, whatever it is called, before reading past its first bytes', async () => {
    expect(await guard(Buffer.from('this is not a video\n'.repeat(1000)))).toEqual({ code: 'UNSUPPORTED_MEDIA' });
    expect(await guard(Buffer.alloc(0))).toEqual({ code: 'EMPTY_FILE' });
  });
});
