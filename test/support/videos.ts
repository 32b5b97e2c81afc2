import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);

export interface VideoSpec {
  seconds: number;
  width?: number;
  height?: number;
  fps?: number;
  audio?: boolean;
}

/** A scratch directory for media files, removed by `cleanup()`. */
export async function mediaDir(): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'framewire-test-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Makes a real H.264 MP4 with ffmpeg's test source (and a sine tone if `audio`). */
export async function makeVideo(path: string, spec: VideoSpec): Promise<string> {
  const { seconds, width = 320, height = 240, fps = 25, audio = false } = spec;
  const args = ['-v', 'error', '-y', '-f', 'lavfi', '-i', `testsrc=size=${width}x${height}:rate=${fps}`];
  if (audio) args.push('-f', 'lavfi', '-i', 'sine=frequency=440:sample_rate=44100');
  args.push('-t', String(seconds), '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p');
  if (audio) args.push('-c:a', 'aac', '-shortest');
  args.push(path);
  await run('ffmpeg', args);
  return path;
}

export async function makeTextFile(path: string, text = 'this is not a video\n'): Promise<string> {
  await writeFile(path, text);
  return path;
}

/** What ffprobe itself says about a file, to compare a pipeline's result against. */
export async function ffprobe(path: string): Promise<{
  format: { duration: string; size: string; format_name: string };
  streams: Array<{ codec_type: string; codec_name: string; width?: number; height?: number; avg_frame_rate?: string; nb_frames?: string }>;
}> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-print_format', 'json', '-show_format', '-show_streams', path]);
  return JSON.parse(stdout);
}

/** One ISO BMFF box: 32-bit size, 4-character type, payload. */
export function isoBox(type: string, payload: Uint8Array = new Uint8Array(0)): Uint8Array {
  const box = new Uint8Array(8 + payload.length);
  new DataView(box.buffer).setUint32(0, box.length);
  box.set(Buffer.from(type, 'latin1'), 4);
  box.set(payload, 8);
  return box;
}

/**
 * A small file with a whole MP4 box structure (ftyp, moov, mdat) but no real media: it passes the
 * gateway's upload checks, and ffprobe refuses it. `fill` varies the content (and so its hash).
 */
export function mp4Shell(fill = 7, mdatBytes = 48): Uint8Array<ArrayBuffer> {
  const parts = [
    isoBox('ftyp', Buffer.from('isom\0\0\x02\0isommp41', 'latin1')),
    isoBox('moov', new Uint8Array(16).fill(fill)),
    isoBox('mdat', new Uint8Array(mdatBytes).fill(fill)),
  ];
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const part of parts) {
    out.set(part, at);
    at += part.length;
  }
  return out;
}

/** Runs ffmpeg with `args` (quiet, overwriting), for making test media. */
export async function ffmpeg(args: string[]): Promise<void> {
  await run('ffmpeg', ['-v', 'error', '-y', '-nostdin', ...args]);
}

/**
 * A video of solid-colour segments followed by the test pattern: a scene cut at the first frame of
 * every segment after the first. Returns the path and the frame index of each cut.
 */
export async function makeCutsVideo(path: string, colors: string[], secondsEach: number, fps: number, size = '160x120'): Promise<{ path: string; cuts: number[] }> {
  const inputs = colors.flatMap((color) => ['-f', 'lavfi', '-i', `color=${color}:s=${size}:r=${fps}:d=${secondsEach}`]);
  const concat = `${colors.map((_, i) => `[${i}]`).join('')}concat=n=${colors.length}:v=1,format=yuv420p[v]`;
  await ffmpeg([...inputs, '-filter_complex', concat, '-map', '[v]', '-c:v', 'libx264', '-preset', 'ultrafast', path]);
  return { path, cuts: colors.slice(1).map((_, i) => (i + 1) * secondsEach * fps) };
}

/** Presentation timestamps of every video frame, in order, as ffprobe reads them. */
export async function frameTimes(path: string): Promise<number[]> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'frame=pts_time', '-of', 'csv=p=0', path], { maxBuffer: 64 * 1024 * 1024 });
  return stdout
    .split('\n')
    .map((line) => line.replace(/,+$/, '').trim())
    .filter((line) => line !== '')
    .map(Number)
    .sort((a, b) => a - b);
}

/**
 * The first audio stream's packets as ffprobe lists them (timestamps, duration, size, flags) and the
 * MD5 of their bytes (copied out, not decoded): equal for two files when their audio is the same.
 */
export async function audioPackets(path: string): Promise<{ packets: string[]; md5: string }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'a:0', '-show_entries', 'packet=pts,dts,duration,size,flags', '-of', 'csv=p=0', path], { maxBuffer: 64 * 1024 * 1024 });
  const hash = await run('ffmpeg', ['-v', 'error', '-i', path, '-map', '0:a:0', '-c', 'copy', '-f', 'md5', '-'], { maxBuffer: 1024 * 1024 });
  return { packets: stdout.split('\n').filter((line) => line.trim() !== ''), md5: hash.stdout.trim() };
}

/** Width and height of an image or video, by ffprobe. */
export async function dimensions(path: string): Promise<{ width: number; height: number }> {
  const { stdout } = await run('ffprobe', ['-v', 'error', '-select_streams', 'v:0', '-show_entries', 'stream=width,height', '-of', 'json', path]);
  const stream = (JSON.parse(stdout) as { streams: Array<{ width: number; height: number }> }).streams[0]!;
  return { width: stream.width, height: stream.height };
}

/**
 * An ffprobe that holds the job for `holdSeconds` before running the real one (FFPROBE_PATH is a
 * real setting of the worker), so a test can kill or stop a worker while it is in the middle of a
 * job. It exits as soon as the worker that started it is gone, leaving nothing behind.
 */
export async function slowFfprobe(dir: string, holdSeconds: number): Promise<string> {
  const path = join(dir, `ffprobe-after-${holdSeconds}s.sh`);
  await writeFile(path, ['#!/bin/sh', ...holdThenFfprobe(holdSeconds)].join('\n'), { mode: 0o755 });
  return path;
}

/** Shell lines that wait `holdSeconds` (exiting as soon as the worker that started them is gone), then run the real ffprobe. */
function holdThenFfprobe(holdSeconds: number): string[] {
  return [
    `end=$(( $(date +%s) + ${Math.ceil(holdSeconds)} ))`,
    'while [ "$(date +%s)" -lt "$end" ]; do',
    '  kill -0 "$PPID" 2>/dev/null || exit 1',
    '  sleep 0.1',
    'done',
    'exec ffprobe "$@"',
    '',
  ];
}

/**
 * An ffprobe that fails as if it had crashed (it prints something that is not JSON: TOOL_FAILED,
 * which is retried) its first `failures` times, then holds the job for `holdSeconds` and runs the
 * real one. The count is kept in a file beside it, across attempts and workers.
 */
export async function flakyThenSlowFfprobe(dir: string, failures: number, holdSeconds: number): Promise<string> {
  const path = join(dir, `ffprobe-fails-${failures}-then-${holdSeconds}s.sh`);
  const count = `${path}.count`;
  const script = [
    '#!/bin/sh',
    `n=$(cat "${count}" 2>/dev/null || echo 0)`,
    `if [ "$n" -lt ${failures} ]; then echo $((n + 1)) > "${count}"; echo 'not json'; exit 0; fi`,
    ...holdThenFfprobe(holdSeconds),
  ].join('\n');
  await writeFile(path, script, { mode: 0o755 });
  return path;
}

/**
 * A video made once per machine and kept in `<tmpdir>/framewire-video-cache/<name>` (for those too
 * slow to make on every run). Made under a temporary name and renamed, so a run that is killed
 * half-way leaves nothing that looks finished, and parallel runs each end with a whole file.
 */
export async function cachedVideo(name: string, make: (path: string) => Promise<void>): Promise<string> {
  const dir = join(tmpdir(), 'framewire-video-cache');
  const path = join(dir, name);
  if (await stat(path).then((s) => s.size > 0, () => false)) return path;
  await mkdir(dir, { recursive: true });
  const partial = `${path}.${process.pid}.${Date.now()}.partial`;
  try {
    await make(partial);
    await rename(partial, path);
  } finally {
    await rm(partial, { force: true });
  }
  return path;
}

/**
 * An hour of 16x16 video at 1000 fps: 3.6 million frames in about 47 MB, as ffprobe reports them
 * (duration 3600 s, avg_frame_rate 1000/1, nb_frames 3600000). Encoding that many frames takes half
 * a minute; ten seconds encoded once and repeated 360 times without re-encoding (`-stream_loop`,
 * `-c copy`) is the same file in a few seconds. Cached (cachedVideo).
 */
export function manyFramesVideo(): Promise<string> {
  return cachedVideo('16x16-1000fps-1h.mp4', async (path) => {
    const tenSeconds = `${path}.10s.mp4`;
    try {
      await ffmpeg(['-f', 'lavfi', '-i', 'testsrc=size=16x16:rate=1000', '-t', '10', '-c:v', 'libx264', '-preset', 'ultrafast', '-pix_fmt', 'yuv420p', '-f', 'mp4', tenSeconds]);
      await ffmpeg(['-stream_loop', '359', '-i', tenSeconds, '-c', 'copy', '-f', 'mp4', path]);
    } finally {
      await rm(tenSeconds, { force: true });
    }
  });
}

/**
 * A DASH manifest dressed as an M2TS stream: a 0x47 at every 192-byte packet start of its first
 * kilobyte, inside an XML comment. ffprobe, left to guess, opens it with its DASH demuxer, which
 * then reads `baseUrl` (a local file, or a URL).
 */
export function disguisedDashManifest(baseUrl: string): Buffer {
  const head = Buffer.alloc(192 * 6, ' ');
  head.write('<?xml version="1.0"?><!--', 0, 'latin1');
  for (let at = 4; at < head.length; at += 192) head[at] = 0x47;
  const mpd =
    '-->\n<MPD xmlns="urn:mpeg:dash:schema:mpd:2011" type="static" profiles="urn:mpeg:dash:profile:isoff-on-demand:2011" mediaPresentationDuration="PT1S" minBufferTime="PT1S">' +
    `<Period><AdaptationSet mimeType="video/mp4"><Representation id="1" bandwidth="1000"><BaseURL>${baseUrl}</BaseURL></Representation></AdaptationSet></Period></MPD>\n`;
  return Buffer.concat([head, Buffer.from(mpd, 'utf8')]);
}

/** An HLS playlist of one segment at `url` (a local path or a URL). */
export function hlsPlaylist(url: string): Buffer {
  return Buffer.from(`#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:10\n#EXTINF:1,\n${url}\n#EXT-X-ENDLIST\n`);
}

/** An ffconcat list of one file. */
export function ffconcatList(path: string): Buffer {
  return Buffer.from(`ffconcat version 1.0\nfile '${path}'\n`);
}

/**
 * `mov` (a QuickTime file with its `moov` after its `mdat`, as ffmpeg writes it without faststart)
 * with the data reference of every track replaced by a Macintosh alias (`dref` entry `alis`) to the
 * absolute path `target`: a reference movie whose samples live in another file. ffmpeg follows it only
 * with `-enable_drefs 1` (and, for an absolute path, `-use_absolute_path 1`).
 */
export function movWithExternalReference(mov: Uint8Array, target: string): Uint8Array {
  const containers = new Set(['moov', 'trak', 'mdia', 'minf', 'dinf']);
  const path = Buffer.from(target, 'latin1');
  const even = path.length + (path.length % 2);
  // The alias record as ffmpeg's mov demuxer reads it: 150 bytes of fixed fields (no volume name,
  // no file name, no levels), then (type, length, value) entries: type 2 is the absolute path; -1 ends.
  const alias = Buffer.alloc(150 + 4 + even + 4);
  alias.writeUInt16BE(2, 150);
  alias.writeUInt16BE(path.length, 152);
  path.copy(alias, 154);
  alias.writeUInt16BE(0xffff, 154 + even);
  const entry = Buffer.concat([u32(12 + alias.length), Buffer.from('alis'), u32(0), alias]);
  const dref = Buffer.concat([u32(16 + entry.length), Buffer.from('dref'), u32(0), u32(1), entry]);
  const rebuild = (bytes: Buffer): Buffer => {
    const out: Buffer[] = [];
    for (let at = 0; at + 8 <= bytes.length; ) {
      const size = bytes.readUInt32BE(at);
      const type = bytes.toString('latin1', at + 4, at + 8);
      if (size < 8 || at + size > bytes.length) throw new Error(`movWithExternalReference: box "${type}" at ${at} has size ${size}`);
      if (type === 'dref') out.push(dref);
      else if (containers.has(type)) {
        const inner = rebuild(bytes.subarray(at + 8, at + size));
        out.push(u32(8 + inner.length), Buffer.from(type, 'latin1'), inner);
      } else out.push(bytes.subarray(at, at + size));
      at += size;
    }
    return Buffer.concat(out);
  };
  const top = Buffer.from(mov.buffer, mov.byteOffset, mov.byteLength);
  const order: string[] = [];
  for (let at = 0; at + 8 <= top.length; at += top.readUInt32BE(at)) {
    if (top.readUInt32BE(at) < 8) throw new Error('movWithExternalReference: a top-level box with no size');
    order.push(top.toString('latin1', at + 4, at + 8));
  }
  // Boxes before moov keep their offsets, so the sample offsets into mdat stay right.
  if (!(order.indexOf('mdat') >= 0 && order.indexOf('mdat') < order.indexOf('moov'))) throw new Error('movWithExternalReference: needs a file whose moov follows its mdat');
  return rebuild(top);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(n);
  return b;
}

/**
 * A Matroska file (as ffmpeg writes it, with the default timestamp scale of 1 ms) whose Segment Info
 * states a duration of `seconds`, whatever its clusters hold: a header that lies about its length.
 */
export function mkvStatingDuration(mkv: Uint8Array, seconds: number): Buffer {
  const bytes = Buffer.from(mkv);
  // The Duration element: ID 0x4489, size 8 (0x88), a big-endian double in timestamp-scale units.
  const at = bytes.indexOf(Buffer.from([0x44, 0x89, 0x88]));
  if (at < 0) throw new Error('mkvStatingDuration: no 8-byte Duration element');
  bytes.writeDoubleBE(seconds * 1000, at + 3);
  return bytes;
}
