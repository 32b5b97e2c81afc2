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
