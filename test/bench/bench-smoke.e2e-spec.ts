import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { problemsOf, type RunReport } from '../../bench/lib/report.js';

const root = new URL('../..', import.meta.url).pathname;

function withoutBenchNats(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { BENCH_NATS_URL: _url, BENCH_NATS_SYNC: _sync, BENCH_COMPARE_NATS_SERVER: _compare, ...rest } = env;
  return rest;
}

/**
 * `npm run bench -- --quick`: the harness and every benchmark still run end to end (tiny counts,
 * the built apps as processes, peers included) and write a valid JSON, table and chart. The figures
 * themselves are not asserted: speed lives in the benchmarks, never in tests.
 */
describe('npm run bench, quick mode', () => {
  let out: string;
  let exit: { code: number | null; output: string };
  let group: number | undefined;

  beforeAll(async () => {
    out = await mkdtemp(join(tmpdir(), 'framewire-bench-smoke-'));
    exit = await new Promise((resolve) => {
      const child = spawn(process.execPath, ['--import', './bench/lib/register.mjs', 'bench/run.ts', '--quick', '--no-build', '--out', out], {
        cwd: root,
        // The bench's own durable server (no BENCH_NATS_URL, BENCH_NATS_SYNC or comparison server from outside).
        env: { ...withoutBenchNats(process.env), BENCH_CPU_PROF_DIR: '' },
        stdio: ['ignore', 'pipe', 'pipe'],
        // Its own process group: if the hook times out, afterAll kills the run with every app it started.
        detached: true,
      });
      group = child.pid;
      let output = '';
      child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
      child.on('exit', (code) => {
        group = undefined;
        resolve({ code, output });
      });
    });
  }, 600_000);

  afterAll(async () => {
    if (group !== undefined) {
      try {
        process.kill(-group, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await rm(out, { recursive: true, force: true });
  });

  it('runs every benchmark, the raw limits first, and writes JSON, a table and a chart', async () => {
    expect({ code: exit.code, tail: exit.code === 0 ? '' : exit.output.slice(-4000) }).toEqual({ code: 0, tail: '' });
    const files = (await readdir(out)).sort();
    const base = files.find((f) => f.endsWith('-quick.json'))!.replace(/\.json$/, '');
    expect(files).toEqual([`${base}.json`, `${base}.md`, `${base}.svg`]);

    const report = JSON.parse(await readFile(join(out, `${base}.json`), 'utf8')) as RunReport;
    expect(report.quick).toBe(true);
    expect(problemsOf(report)).toEqual([]);
    const ids = report.benchmarks.map((b) => b.id);
    expect(ids[0]).toBe('raw');
    const modules = (await readdir(join(root, 'bench'))).filter((f) => f.endsWith('.bench.ts'));
    expect(ids).toHaveLength(modules.length);
    expect(report.benchmarks.find((b) => b.id === 'p1')?.samples?.['Framewire']?.length).toBeGreaterThan(0);

    // On a nats-server of its own, 2.12 or newer, fsyncing every ack; the peers at equal durability beside Framewire.
    expect(report.machine).toMatchObject({ natsSync: 'sync_interval: always', natsStartedByBench: true });
    const [major, minor] = String(report.machine['natsServer']).split('.').map(Number) as [number, number];
    expect(major > 2 || minor >= 12).toBe(true);
    const p2 = report.benchmarks.find((b) => b.id === 'p2')!;
    const goals = p2.measurements.filter((m) => m.name === 'Framewire, concurrency 4').map((m) => [m.baseline?.name, m.goal]);
    expect(goals).toEqual([
      ['raw job shape c4, same server', '≥ 0.9× raw job shape'],
      ['graphile-worker c4', '≥ 1× graphile-worker'],
      ['graphile-worker c4', 'stretch: ≥ 1.5× graphile-worker'],
      ['BullMQ, appendfsync always c4', '≥ 1× BullMQ, appendfsync always'],
      ['BullMQ, appendfsync everysec c4 (less durable)', undefined],
    ]);

    const table = await readFile(join(out, `${base}.md`), 'utf8');
    expect(table).toContain('| Benchmark | Measurement | Value | Baseline (same run) | Ratio | Goal | Met |');
    const svg = await readFile(join(out, `${base}.svg`), 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
  });
});
