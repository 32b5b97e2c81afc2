import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import type { FfmpegProgress } from '../tool.js';

/**
 * Parses ffmpeg's `-progress` output: blocks of `key=value` lines, each closed by a line
 * `progress=continue` (or `progress=end` for the last one). Feed it stdout as it arrives, in chunks
 * of any size; it calls `onBlock` once per complete block.
 */
export class FfmpegProgressParser {
  private partial = '';
  private block = new Map<string, string>();

  constructor(private readonly onBlock: (progress: FfmpegProgress) => void) {}

  push(chunk: string): void {
    const text = this.partial + chunk;
    const lines = text.split('\n');
    this.partial = lines.pop() ?? '';
    for (const raw of lines) {
      const line = raw.trim();
      const eq = line.indexOf('=');
      if (eq <= 0) continue;
      const key = line.slice(0, eq);
      const value = line.slice(eq + 1).trim();
      if (key === 'progress') {
        this.onBlock(toProgress(this.block, value === 'end'));
        this.block = new Map();
      } else {
        this.block.set(key, value);
      }
    }
  }
}

function toProgress(block: Map<string, string>, done: boolean): FfmpegProgress {
  // out_time_us is microseconds; out_time_ms is, despite its name, microseconds too.
  const micros = numberOf(block.get('out_time_us')) ?? numberOf(block.get('out_time_ms'));
  const speed = block.get('speed');
  return {
    frame: numberOf(block.get('frame')),
    outTimeSec: micros !== null && micros >= 0 ? micros / 1_000_000 : null,
    speed: speed ? numberOf(speed.replace(/x$/, '')) : null,
    done,
  };
}

function numberOf(value: string | undefined): number | null {
  if (value === undefined || value === '' || value === 'N/A') return null;
  const n = Number(value);
  return Number.isFinite(n) ? n : null;
}

/** One frame as ffmpeg's `metadata=mode=print` filter writes it. */
export interface PrintedFrame {
  /** The frame's number among those that reached the print filter, from 0. */
  frame: number;
  ptsTime: number | null;
  values: Record<string, string>;
}

/**
 * Parses the output of ffmpeg's `metadata=mode=print` filter:
 * `frame:0    pts:0       pts_time:0` followed by `key=value` lines for that frame.
 */
export function parseMetadataPrint(text: string): PrintedFrame[] {
  const frames: PrintedFrame[] = [];
  const parser = new MetadataPrintParser((frame) => frames.push(frame));
  for (const line of text.split('\n')) parser.line(line);
  parser.end();
  return frames;
}

/**
 * Reads a `metadata=mode=print` file line by line and hands over each frame once its lines are read,
 * so a file of millions of frames (a tool that prints every frame) never sits in memory whole.
 */
export async function readMetadataPrint(path: string, onFrame: (frame: PrintedFrame) => void): Promise<void> {
  const parser = new MetadataPrintParser(onFrame);
  const lines = createInterface({ input: createReadStream(path, { encoding: 'utf8' }), crlfDelay: Infinity });
  for await (const line of lines) parser.line(line);
  parser.end();
}

class MetadataPrintParser {
  private current: PrintedFrame | null = null;
  private count = 0;

  constructor(private readonly onFrame: (frame: PrintedFrame) => void) {}

  line(raw: string): void {
    const line = raw.trim();
    if (line.startsWith('frame:')) {
      this.end();
      const frame = /^frame:\s*(\d+)/.exec(line);
      const pts = /pts_time:\s*(-?[\d.]+(?:e-?\d+)?)/.exec(line);
      this.current = { frame: Number(frame?.[1] ?? this.count), ptsTime: pts ? Number(pts[1]) : null, values: {} };
      this.count++;
    } else if (this.current) {
      const eq = line.indexOf('=');
      if (eq > 0) this.current.values[line.slice(0, eq)] = line.slice(eq + 1);
    }
  }

  end(): void {
    if (this.current) this.onFrame(this.current);
    this.current = null;
  }
}
