import { readFile, stat } from 'node:fs/promises';
import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { FfmpegProgressParser, ToolError, type FfmpegProgress } from '@app/tools';
import { WORKER_CONFIG } from '../worker.config.js';
import { checkConcatList, concatLists, ffmpegArgs, type MediaInput } from './media-input.js';
import { memoryCapMb, resourceFailure, spawnCapped } from './media-process.js';

/** How much of stderr is kept for the error message: its tail, where ffmpeg says what went wrong. */
const STDERR_TAIL = 16 * 1024;

/** A concat list of a split job's join names one file per part: a few kB. */
const CONCAT_LIST_LIMIT = 1024 * 1024;

/** Lines of ffmpeg's stderr that mean the input itself is broken, not the tool. */
const INVALID_INPUT = /Invalid data found when processing input|moov atom not found|could not find codec parameters|Invalid NAL unit size/i;

/**
 * Runs the real ffmpeg binary for the tools: no stdin, `-progress pipe:1` on stdout when the caller
 * wants progress, stderr kept as a bounded tail. Every run is capped: FFMPEG_THREADS threads for
 * each decoder, encoder and filter graph, FFMPEG_MEMORY_MB of address space, and the wall time of the
 * signal it is given (the tool's timeout); the upload is read only as the container it was accepted
 * as (see ffmpegArgs). The signal kills it at once (SIGKILL).
 */
@Injectable()
export class FfmpegRunner {
  private readonly memoryMb: number;

  constructor(@Inject(WORKER_CONFIG) private readonly config: WorkerConfig) {
    this.memoryMb = memoryCapMb(config);
  }

  async run(args: string[], signal: AbortSignal, onProgress?: (progress: FfmpegProgress) => void, input: MediaInput | null = null): Promise<{ stdout: string; stderr: string }> {
    const full = ffmpegArgs(args, input, this.config.FFMPEG_THREADS);
    for (const list of concatLists(args)) await checkConcatFiles(list, input);
    return this.spawn(full, signal, onProgress);
  }

  private spawn(args: string[], signal: AbortSignal, onProgress?: (progress: FfmpegProgress) => void): Promise<{ stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      if (signal.aborted) return reject(signal.reason);
      const threads = String(this.config.FFMPEG_THREADS);
      const full = [
        '-hide_banner', '-nostdin', '-y', '-v', 'error', '-filter_threads', threads, '-filter_complex_threads', threads,
        ...(onProgress ? ['-progress', 'pipe:1', '-nostats'] : []),
        ...args,
      ];
      const child = spawnCapped(this.config.FFMPEG_PATH, full, this.memoryMb, signal);
      const parser = onProgress ? new FfmpegProgressParser(onProgress) : null;
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
        if (parser) parser.push(chunk);
        else if (stdout.length < STDERR_TAIL) stdout += chunk;
      });
      child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
        stderr = (stderr + chunk).slice(-STDERR_TAIL);
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        if (error.name === 'AbortError') reject(signal.reason ?? error);
        else reject(new ToolError(ErrorCode.ToolFailed, `ffmpeg could not run: ${error.message}`, false, { cause: error }));
      });
      child.on('close', (code, signalName) => {
        if (signal.aborted) return reject(signal.reason);
        const resources = code !== 0 ? resourceFailure('ffmpeg', code, stderr, signalName, this.memoryMb) : null;
        if (resources) return reject(resources);
        if (code !== 0) {
          const message = lastLines(stderr) || `exit code ${code}`;
          return reject(INVALID_INPUT.test(stderr) ? new ToolError(ErrorCode.InvalidMedia, `ffmpeg could not read the video: ${message}`, true) : new ToolError(ErrorCode.ToolFailed, `ffmpeg failed: ${message}`, false));
        }
        resolve({ stdout, stderr });
      });
    });
  }
}

/**
 * Refuses a concat list that names anything but plain files beside it (checkConcatList), or that
 * names the upload by another path (a link to it): the upload is read only as its own `-i`.
 */
async function checkConcatFiles(list: string, input: MediaInput | null): Promise<void> {
  const refuse = (why: string) => new ToolError(ErrorCode.ToolFailed, `concat list ${list}: ${why}`, true);
  const size = await stat(list).then((s) => s.size, () => null);
  if (size === null) throw refuse('no such file');
  if (size > CONCAT_LIST_LIMIT) throw refuse(`over ${CONCAT_LIST_LIMIT} bytes`);
  const files = checkConcatList(await readFile(list, 'utf8'), list);
  if (!input) return;
  const upload = await stat(input.path).catch(() => null);
  for (const file of files) {
    const named = await stat(file).catch(() => null);
    if (!named) throw refuse(`names ${file}, which is not there`);
    if (upload && named.dev === upload.dev && named.ino === upload.ino) throw refuse(`names the upload (${file}); a tool may read it only as "-i <inputPath>"`);
  }
}

function lastLines(text: string): string {
  return text.trim().split('\n').slice(-3).join(' | ').slice(0, 1000);
}
