import { spawn } from 'node:child_process';
import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode } from '@app/contracts';
import type { WorkerConfig } from '@app/config';
import { ToolError, type FfprobeOutput } from '@app/tools';
import { WORKER_CONFIG } from '../worker.config.js';

const STDERR_LIMIT = 4000;

/** Runs the real ffprobe binary. An input it cannot read is INVALID_MEDIA; a missing binary is not. */
@Injectable()
export class FfprobeRunner {
  constructor(@Inject(WORKER_CONFIG) private readonly config: WorkerConfig) {}

  /**
   * Format and streams. The frame count comes from the container when it states one (MP4 and MOV
   * do); only when it does not are the packets counted, which reads the whole file.
   */
  async probe(path: string, signal?: AbortSignal): Promise<FfprobeOutput> {
    const output = await this.run(path, false, signal);
    const video = output.streams?.find((s) => s.codec_type === 'video');
    const stated = Number(video?.nb_frames);
    if (!video || (Number.isFinite(stated) && stated > 0)) return output;
    return this.run(path, true, signal);
  }

  private run(path: string, countPackets: boolean, signal?: AbortSignal): Promise<FfprobeOutput> {
    const args = ['-v', 'error', '-hide_banner', '-print_format', 'json', '-show_format', '-show_streams', ...(countPackets ? ['-count_packets'] : []), path];
    return new Promise((resolve, reject) => {
      const child = spawn(this.config.FFPROBE_PATH, args, {
        stdio: ['ignore', 'pipe', 'pipe'],
        signal,
        timeout: this.config.TOOL_TIMEOUT_MS,
        killSignal: 'SIGKILL',
      });
      const stdout: Buffer[] = [];
      let stderr = '';
      child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
      child.stderr.on('data', (chunk: Buffer) => {
        if (stderr.length < STDERR_LIMIT) stderr += chunk.toString('utf8');
      });
      child.on('error', (error: NodeJS.ErrnoException) => {
        if (error.name === 'AbortError') reject(error);
        else reject(new ToolError(ErrorCode.ToolFailed, `ffprobe could not run: ${error.message}`, false, { cause: error }));
      });
      child.on('close', (code, signalName) => {
        if (signalName) {
          reject(new ToolError(ErrorCode.ToolFailed, `ffprobe was killed by ${signalName}`, false));
        } else if (code !== 0) {
          reject(new ToolError(ErrorCode.InvalidMedia, `ffprobe could not read the file: ${firstLine(stderr.replaceAll(`${path}: `, '')) || `exit code ${code}`}`, true));
        } else {
          try {
            resolve(JSON.parse(Buffer.concat(stdout).toString('utf8')) as FfprobeOutput);
          } catch {
            reject(new ToolError(ErrorCode.ToolFailed, 'ffprobe printed output that is not JSON', false));
          }
        }
      });
    });
  }
}

function firstLine(text: string): string {
  return text.trim().split('\n')[0]?.trim() ?? '';
}
