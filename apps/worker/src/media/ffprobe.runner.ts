import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { abortLink } from '@app/runtime';
import { ToolError, type FfprobeOutput } from '@app/tools';
import { WORKER_CONFIG } from '../worker.config.js';
import { inputOptions, type MediaInput } from './media-input.js';
import { memoryCapMb, resourceFailure, spawnCapped } from './media-process.js';

const STDERR_LIMIT = 4000;
/** ffprobe's JSON for a real video is a few kB; more than this is a file of thousands of streams. */
const STDOUT_LIMIT = 8 * 1024 * 1024;

/**
 * Runs the real ffprobe binary, under the same caps as ffmpeg (threads, memory) and its own wall-time
 * limit, FFPROBE_TIMEOUT_MS; the upload is read as the container it was accepted as. An input it
 * cannot read is INVALID_MEDIA; a missing binary is not.
 */
@Injectable()
export class FfprobeRunner {
  private readonly memoryMb: number;

  constructor(@Inject(WORKER_CONFIG) private readonly config: WorkerConfig) {
    this.memoryMb = memoryCapMb(config);
  }

  /**
   * Format and streams. The frame count comes from the container when it states one (MP4 and MOV
   * do); only when it does not are the packets counted, which reads the whole file. `check` sees each
   * output, and may throw to stop there: the first before the packets are counted, so a video that
   * is over a limit by what its header says is never read to its end, and the counted one.
   */
  async probe(input: MediaInput, signal: AbortSignal, check?: (output: FfprobeOutput) => void): Promise<FfprobeOutput> {
    let downloaded = false;
    input.following?.downloaded.then(
      () => (downloaded = true),
      () => undefined,
    );
    const output = await this.run(input, false, signal);
    check?.(output);
    const video = output.streams?.find((s) => s.codec_type === 'video');
    const stated = Number(video?.nb_frames);
    if (!video || (Number.isFinite(stated) && stated > 0)) return output;
    // Counting reads the whole file: from the file itself when it is all there by now, rather than
    // through the worker's own server (every byte of it through this process).
    const counted = await this.run(downloaded ? { ...input, following: undefined } : input, true, signal);
    check?.(counted);
    return counted;
  }

  /**
   * The presentation times (seconds, sorted, as the packets state them: the source's own timeline)
   * of the first video stream's key frames, where a split job may cut it (findCutPoints). Only the
   * packets are read, nothing is decoded; no further than the duration limit. The listing is read as
   * it comes, keeping only the key frames, so a long video's packets are never held in memory. A
   * packet without a presentation time (AVI holding B-frames states none) is no cut point: its frame's
   * time would be ffmpeg's guess, which a part's boundary could not be checked against.
   */
  async keyframes(input: MediaInput, signal: AbortSignal): Promise<number[]> {
    const args = [
      '-v', 'error', '-hide_banner', '-select_streams', 'v:0', '-show_entries', 'packet=pts_time,flags', '-of', 'csv=p=0',
      '-read_intervals', `%+${input.maxDurationSec}`, '-threads', String(this.config.FFMPEG_THREADS), ...inputOptions(input.demuxer), '-i', input.path,
    ];
    const times: number[] = [];
    let rest = '';
    const line = (text: string) => {
      // "1.920000,K__": the time, then the flags (K: key frame; D: discard; C: corrupt).
      const [time, flags] = text.trim().split(',');
      const t = Number(time);
      if (flags?.includes('K') && time !== '' && time !== 'N/A' && Number.isFinite(t)) times.push(t);
    };
    // No video within the limits has more key frames than frames (MEDIA_MAX_FRAMES).
    const most = this.config.MEDIA_MAX_FRAMES;
    await this.spawn(args, input, signal, 'listing the key frames', `the video has more than ${most} key frames (MEDIA_MAX_FRAMES)`, (chunk) => {
      const lines = (rest + chunk.toString('latin1')).split('\n');
      rest = lines.pop()!;
      lines.forEach(line);
      return times.length <= most;
    });
    line(rest);
    return times.sort((a, b) => a - b);
  }

  private async run(input: MediaInput, countPackets: boolean, signal: AbortSignal): Promise<FfprobeOutput> {
    const source = input.following?.url ?? input.path;
    const args = [
      '-v', 'error', '-hide_banner', '-print_format', 'json', '-show_format', '-show_streams', ...(countPackets ? ['-count_packets'] : []),
      '-threads', String(this.config.FFMPEG_THREADS), ...inputOptions(input.demuxer, input.following !== undefined), '-i', source,
    ];
    const stdout: Buffer[] = [];
    let stdoutBytes = 0;
    const tooMuch = `ffprobe's description of the file is over ${STDOUT_LIMIT} bytes: too many streams`;
    await this.spawn(args, input, signal, countPackets ? 'counting the packets' : null, tooMuch, (chunk) => {
      stdoutBytes += chunk.length;
      if (stdoutBytes > STDOUT_LIMIT) return false;
      stdout.push(chunk);
      return true;
    });
    try {
      return JSON.parse(Buffer.concat(stdout).toString('utf8')) as FfprobeOutput;
    } catch {
      throw new ToolError(ErrorCode.ToolFailed, 'ffprobe printed output that is not JSON', false);
    }
  }

  /**
   * Runs ffprobe with `args`, passing its output to `onStdout` as it comes; `onStdout` returns false
   * when it is too much, which kills ffprobe (INPUT_TOO_LARGE, saying `tooMuch`). `what` names the
   * step in a timeout's message.
   */
  private spawn(args: string[], input: MediaInput, signal: AbortSignal, what: string | null, tooMuch: string, onStdout: (chunk: Buffer) => boolean): Promise<void> {
    const source = input.following?.url ?? input.path;
    return new Promise((resolve, reject) => {
      // Reading an upload that still downloads, ffprobe may wait for its last bytes (an MP4's index
      // comes last): its time limit counts from the end of the download, so that a large upload
      // does not pass for a file that takes too long to probe.
      const limit = input.following ? downloadThenTimeout(input.following.downloaded, this.config.FFPROBE_TIMEOUT_MS) : null;
      const link = abortLink(limit ? [signal, limit.signal] : [signal], limit ? undefined : this.config.FFPROBE_TIMEOUT_MS);
      const timedOut = () => link.timedOut || (limit?.timedOut ?? false);
      const fail = (error: unknown) => {
        link.dispose();
        limit?.dispose();
        reject(error);
      };
      if (link.signal.aborted) return fail(signal.reason);
      const child = spawnCapped(this.config.FFPROBE_PATH, args, this.memoryMb, link.signal);
      let over = false;
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => {
        if (over) return;
        if (!onStdout(chunk)) {
          over = true;
          child.kill('SIGKILL');
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < STDERR_LIMIT) stderr += chunk.toString('utf8');
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        if (error.name === 'AbortError') return; // settled on close
        fail(new ToolError(ErrorCode.ToolFailed, `ffprobe could not run: ${error.message}`, false, { cause: error }));
      });
      child.on('close', (code, signalName) => {
        link.dispose();
        limit?.dispose();
        if (timedOut()) {
          return reject(new ToolError(ErrorCode.ResourceLimit, `ffprobe ran longer than ${this.config.FFPROBE_TIMEOUT_MS} ms (FFPROBE_TIMEOUT_MS)${what ? ` ${what}` : ''}`, false));
        }
        if (signal.aborted) return reject(signal.reason);
        if (over) return reject(new ToolError(ErrorCode.InputTooLarge, tooMuch, true));
        const resources = code !== 0 ? resourceFailure('ffprobe', code, stderr, signalName, this.memoryMb) : null;
        if (resources) return reject(resources);
        if (code !== 0) {
          return reject(new ToolError(ErrorCode.InvalidMedia, `ffprobe could not read the file: ${firstLine(stderr.replaceAll(`${source}: `, '')) || `exit code ${code}`}`, true));
        }
        resolve();
      });
    });
  }
}

/**
 * A time limit that starts when `downloaded` settles (resolved or rejected: a failed download stops
 * the probe by itself, through the server cutting its request off).
 */
function downloadThenTimeout(downloaded: Promise<void>, timeoutMs: number): { signal: AbortSignal; readonly timedOut: boolean; dispose(): void } {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  let disposed = false;
  let timedOut = false;
  const start = () => {
    if (disposed) return;
    timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError'));
    }, timeoutMs);
    timer.unref();
  };
  downloaded.then(start, start);
  return {
    signal: controller.signal,
    get timedOut() {
      return timedOut;
    },
    dispose: () => {
      disposed = true;
      if (timer) clearTimeout(timer);
    },
  };
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}
