import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import type { FfmpegProgress } from '../tool.js';
import { FfmpegProgressParser, parseMetadataPrint, readMetadataPrint } from './ffmpeg-progress.js';

describe('ffmpeg -progress output', () => {
  it('yields one report per block, whatever the chunking, and marks the last', () => {
    const seen: FfmpegProgress[] = [];
    const parser = new FfmpegProgressParser((p) => seen.push(p));
    const text = 'frame=5\nfps=0.00\nout_time_us=1640000\nout_time_ms=1640000\nspeed= 165x\nprogress=continue\nframe=12\nout_time_us=N/A\nspeed=N/A\nprogress=end\n';
    for (let i = 0; i < text.length; i += 7) parser.push(text.slice(i, i + 7));
    expect(seen).toEqual([
      { frame: 5, outTimeSec: 1.64, speed: 165, done: false },
      { frame: 12, outTimeSec: null, speed: null, done: true },
    ]);
  });
});

describe('metadata=mode=print output', () => {
  it('reads each frame with its number, timestamp and values', () => {
    const text = 'frame:0    pts:0       pts_time:0\nlavfi.scene_score=0.000000\nframe:10   pts:10240   pts_time:1\nlavfi.scene_score=0.400000\nlavfi.other=x=y\n';
    expect(parseMetadataPrint(text)).toEqual([
      { frame: 0, ptsTime: 0, values: { 'lavfi.scene_score': '0.000000' } },
      { frame: 10, ptsTime: 1, values: { 'lavfi.scene_score': '0.400000', 'lavfi.other': 'x=y' } },
    ]);
    expect(parseMetadataPrint('')).toEqual([]);
  });
});
