import type { Benchmark } from './lib/types.js';
import { runThumbnailsBench } from './lib/p6-thumbnails.mjs';

/** P6: the thumbnails pipeline against the same raw ffmpeg command, in one run. Goal: ≤ 1.05× (issue #19). */
const benchmark: Benchmark = {
  id: 'p6',
  title: 'P6: thumbnails pipeline against the same raw ffmpeg command',
  run: (ctx) => runThumbnailsBench(ctx),
};

export default benchmark;
