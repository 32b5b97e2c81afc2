import { execFile } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mediaDir } from '../../../../test/support/videos.js';
import { guardUpload } from './media-guard.js';

const run = promisify(execFile);

/** Streams `file` through guardUpload in chunks (64 KiB by default); resolves with what came out, or the error code. */
async function guard(file: Buffer, chunkBytes = 65536): Promise<{ contentType: string; bytes: number } | { code: string }> {
  const chunks = Array.from({ length: Math.ceil(file.length / chunkBytes) }, (_, i) => file.subarray(i * chunkBytes, (i + 1) * chunkBytes));
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
      make('clip.m2ts', ['-c:v', 'mpeg2video', '-f', 'mpegts', '-mpegts_m2ts_mode', '1']),
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
    ['clip.m2ts', 'video/mp2t'],
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

  it('refuses a DASH manifest whose XML comment holds a 0x47 every 192 bytes, which ffprobe would open as DASH', async () => {
    // Sync bytes at the M2TS packet starts of the first 1 kB (what the sniffer used to look at), and few
    // enough of them that ffprobe's own probe rates the file as DASH rather than as a transport stream.
    const head = Buffer.alloc(192 * 6, ' ');
    head.write('<?xml version="1.0"?><!--', 0, 'latin1');
    for (let at = 4; at < head.length; at += 192) head[at] = 0x47;
    const manifest = Buffer.concat([head, Buffer.from('-->\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011" mediaPresentationDuration="PT1S"><Period><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="1000"><BaseURL>segment.mp4</BaseURL></Representation></AdaptationSet></Period></MPD>\n')]);
    const path = join(media.dir, 'manifest.mp4');
    await writeFile(path, manifest);
    // The danger is real: left to probe, ffprobe opens it with its DASH demuxer.
    const probed = await run('ffprobe', ['-v', 'error', '-show_entries', 'format=format_name', '-of', 'csv=p=0', path]).then((r) => r.stdout, (e: { stderr: string }) => e.stderr);
    expect(probed).toMatch(/dash/i);
    // In small chunks, as a slow client sends it: the guard sees no more than the head it asks for.
    expect(await guard(manifest, 256)).toEqual({ code: 'UNSUPPORTED_MEDIA' });
    expect(await guard(manifest)).toEqual({ code: 'UNSUPPORTED_MEDIA' });
  });

  it.each([
    ['an HLS playlist', '#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\nhttp://127.0.0.1:9/segment.ts\n#EXT-X-ENDLIST\n'],
    ['an ffconcat playlist', 'ffconcat version 1.0\nfile /etc/hostname\nfile http://127.0.0.1:9/clip.mp4\n'],
  ])('refuses %s named .mp4', async (_, text) => {
    expect(await guard(Buffer.from(text))).toEqual({ code: 'UNSUPPORTED_MEDIA' });
  });

  it('refuses a text file, whatever it is called, before reading past its first bytes', async () => {
    expect(await guard(Buffer.from('this is not a video\n'.repeat(1000)))).toEqual({ code: 'UNSUPPORTED_MEDIA' });
    expect(await guard(Buffer.alloc(0))).toEqual({ code: 'EMPTY_FILE' });
  });
});
