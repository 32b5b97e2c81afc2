#!/usr/bin/env node
// Runs benchmark P6 alone, without the `npm run bench` harness: `npm run build`, then
// `node bench/p6-thumbnails.mjs [--quick]`. Prints the result as JSON.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runThumbnailsBench } from './lib/p6-thumbnails.mjs';

const workDir = await mkdtemp(join(tmpdir(), 'framewire-p6-'));
try {
  const result = await runThumbnailsBench({
    natsUrl: process.env.BENCH_NATS_URL ?? process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
    workDir,
    repoRoot: new URL('..', import.meta.url).pathname,
    quick: process.argv.includes('--quick'),
    log: (message) => process.stderr.write(`${message}\n`),
  });
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await rm(workDir, { recursive: true, force: true });
}
