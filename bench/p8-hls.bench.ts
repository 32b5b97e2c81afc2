import type { Benchmark } from './lib/types.js';
import { runHlsBench } from './lib/p8-hls.mjs';

/** P8: the hls pipeline against the same raw ffmpeg command, in one run. Goal: ≤ 1.1×, as P6's. */
const benchmark: Benchmark = {
  id: 'p8',
  title: 'P8: hls pipeline against the same raw ffmpeg command',
  // Three rounds of a 30 s 720p ladder, raw and through the system, on two shared cores.
  timeoutMs: 10 * 60_000,
  run: (ctx) => runHlsBench(ctx),
};

export default benchmark;
