/**
 * Runs one benchmark on its own, until `npm run bench` runs them all:
 *   npx tsx bench/run-standalone.ts bench/p3-replay.bench.ts [--quick]
 * NATS and PostgreSQL come from BENCH_NATS_URL / BENCH_DATABASE_URL (default: the local test services).
 * Prints the BenchResult as JSON on stdout and a one-line summary per measurement on stderr.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { Benchmark } from './lib/types.js';

const [file, ...flags] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: tsx bench/run-standalone.ts <bench file> [--quick]\n');
  process.exit(2);
}
const { default: benchmark } = (await import(pathToFileURL(resolve(file)).href)) as { default: Benchmark };
const workDir = await mkdtemp(join(tmpdir(), `framewire-bench-${benchmark.id}-`));
try {
  const result = await benchmark.run({
    natsUrl: process.env['BENCH_NATS_URL'] ?? 'nats://127.0.0.1:4222',
    databaseUrl: process.env['BENCH_DATABASE_URL'] ?? 'postgres://root@127.0.0.1:5432/test',
    workDir,
    repoRoot: resolve(new URL('..', import.meta.url).pathname),
    quick: flags.includes('--quick'),
    log: (message) => process.stderr.write(`[${benchmark.id}] ${message}\n`),
  });
  for (const m of result.measurements) {
    const base = m.baseline ? ` vs ${m.baseline.name} ${m.baseline.value}` : '';
    process.stderr.write(`${m.name}: ${m.value} ${m.unit}${base}${m.goal ? ` (goal ${m.goal}: ${m.met ? 'met' : 'NOT met'})` : ''}\n`);
  }
  process.stdout.write(`${JSON.stringify(result, null, 2)}\n`);
} finally {
  await rm(workDir, { recursive: true, force: true });
}
