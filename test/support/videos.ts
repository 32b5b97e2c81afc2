import { execFile } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
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
  const script = [
    '#!/bin/sh',
    `end=$(( $(date +%s) + ${Math.ceil(holdSeconds)} ))`,
    'while [ "$(date +%s)" -lt "$end" ]; do',
    '  kill -0 "$PPID" 2>/dev/null || exit 1',
    '  sleep 0.1',
    'done',
    'exec ffprobe "$@"',
    '',
  ].join('\n');
  await writeFile(path, script, { mode: 0o755 });
  return path;
}
