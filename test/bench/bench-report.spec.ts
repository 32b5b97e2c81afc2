import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { latencyChart, markdownTable, problemsOf, TABLE_PAGE, withBenchTable, type RunReport } from '../../bench/lib/report.js';
import { distribution, epochMsOf, percentile, steadyRate } from '../../bench/lib/stats.js';

const report = (benchmarks: RunReport['benchmarks']): RunReport => ({
  schema: 1,
  startedAt: '2026-11-25T00:00:00.000Z',
  finishedAt: '2026-11-25T00:01:00.000Z',
  quick: false,
  machine: { cpus: 2, cpuModel: 'test cpu', node: 'v20', natsServer: '2.9.10', postgres: 'PostgreSQL 15', redisServer: 'Redis 7', loadBefore: '0', loadAfter: '0' },
  git: null,
  benchmarks,
});

describe('benchmark statistics', () => {
  it('takes nearest-rank percentiles', () => {
    const values = Array.from({ length: 100 }, (_, i) => i + 1);
    expect([percentile(values, 50), percentile(values, 90), percentile(values, 99), percentile(values, 100)]).toEqual([50, 90, 99, 100]);
    expect(distribution([3, 1, 2])).toMatchObject({ n: 3, p50: 2, max: 3, mean: 2 });
    expect(Number.isNaN(distribution([]).p50)).toBe(true);
  });

  it("keeps the sub-millisecond part of nats-server's stored time, which Date drops", () => {
    const base = Date.parse('2026-12-05T11:52:35.123Z');
    expect(epochMsOf('2026-12-05T11:52:35.123456789Z')).toBeCloseTo(base + 0.456789, 6);
    expect(epochMsOf('2026-12-05T12:52:35.5+01:00')).toBe(Date.parse('2026-12-05T11:52:35.500Z'));
    expect(epochMsOf('2026-12-05T11:52:35Z')).toBe(Date.parse('2026-12-05T11:52:35Z'));
    expect(Number.isNaN(epochMsOf('yesterday'))).toBe(true);
  });

  it('takes a steady rate between two shares of the events, leaving out the ramp and the stragglers', () => {
    // 1 event per ms from 0 to 100 ms, then a straggler 10 s later; unsorted.
    const times = [10_000, ...Array.from({ length: 101 }, (_, i) => 100 - i)];
    expect(steadyRate(times)).toBeCloseTo(1000, 6);
    expect(steadyRate(times, 0, 1)).toBeLessThan(20);
    expect(Number.isNaN(steadyRate([5]))).toBe(true);
  });
});

describe('benchmark report', () => {
  const good = report([
    {
      id: 'p1',
      title: 'Enqueue to start',
      durationMs: 10,
      measurements: [{ name: 'Framewire p50', unit: 'ms', value: 0.8, baseline: { name: 'raw p50', value: 0.5 }, goal: '≤ 1 ms', met: true }],
      samples: { Framewire: [0.5, 0.8, 1.2, -0.01], raw: [0.3, 0.5] },
      notes: ['a note with a | pipe'],
    },
    { id: 'p9', title: 'Broken', durationMs: 5, measurements: [], error: 'boom\nstack' },
  ]);

  it("states the NATS server's version and sync setting, PostgreSQL's durability and the comparison server in the header", () => {
    const described = {
      ...good,
      machine: {
        ...good.machine,
        natsServer: '2.15.1',
        natsSync: 'sync_interval: always',
        natsStartedByBench: true,
        postgresDurability: 'synchronous_commit=on, fsync=on',
        comparisonNats: '2.9.10, default sync (2 min)',
      },
    };
    const header = markdownTable(described).split('\n')[0]!;
    expect(header).toContain('nats-server 2.15.1 with sync_interval: always, started by the bench');
    expect(header).toContain('PostgreSQL 15 (synchronous_commit=on, fsync=on)');
    expect(header).toContain('Rows marked "for comparison only" ran on nats-server 2.9.10, default sync (2 min).');
    expect(markdownTable(good).split('\n')[0]).toContain('nats-server 2.9.10, PostgreSQL 15, Redis 7;');
  });

  it('puts each figure beside its baseline with the ratio and whether the goal was met', () => {
    const table = markdownTable(good);
    expect(table).toContain('| p1 Enqueue to start | Framewire p50 | 0.8 ms | raw p50: 0.5 ms | 1.6× | ≤ 1 ms | yes |');
    expect(table).toContain('| p9 Broken | **failed** |');
    expect(table).toContain('- p1: a note with a | pipe');
  });

  it('draws one chart panel per benchmark with samples, as well-formed SVG', () => {
    const svg = latencyChart(good);
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg.trim().endsWith('</svg>')).toBe(true);
    expect(svg.match(/<polyline/g)).toHaveLength(2);
    expect(svg).toContain('Framewire: p50 0.5 ms');
    expect(svg).not.toMatch(/NaN|Infinity/);
  });

  it('finds the problems the smoke test fails on', () => {
    expect(problemsOf(good)).toEqual(['p9 failed: boom\nstack']);
    const bad = report([{ id: 'p2', title: 'x', durationMs: 1, measurements: [{ name: 'rate', unit: '', value: Number.NaN }] }]);
    expect(problemsOf(bad)).toEqual(['p2 "rate" is NaN', 'p2 "rate" has no unit']);
  });
});

describe('the published benchmark table (npm run bench -- --docs)', () => {
  const root = '/repo';
  const page = (between: string) => `# Performance\n\nintro\n\n<!-- bench:table:start -->\n${between}<!-- bench:table:end -->\n\nafter\n`;

  it('replaces what is between the markers, and links the run\'s files relative to the page', () => {
    const run = { root, page: 'docs/performance.md', base: join(root, 'bench/results/2026-12-03T12-06-57Z') };
    const text = withBenchTable(page('old table\n'), '| new |\n', run);
    expect(text).toBe(
      page(
        'The run behind this table: [`bench/results/2026-12-03T12-06-57Z.json`](../bench/results/2026-12-03T12-06-57Z.json); ' +
          'its latency distributions: [`bench/results/2026-12-03T12-06-57Z.svg`](../bench/results/2026-12-03T12-06-57Z.svg).\n\n| new |\n',
      ),
    );
  });

  it('refuses a page without its markers', () => {
    expect(() => withBenchTable('# Framewire\n', '| t |\n', { root, page: 'README.md', base: join(root, 'bench/results/x') })).toThrow(
      'README.md has no <!-- bench:table:start --> ... <!-- bench:table:end --> section',
    );
  });

  it('writes into docs/performance.md, which has the markers', async () => {
    expect(TABLE_PAGE).toBe('docs/performance.md');
    const text = await readFile(new URL(`../../${TABLE_PAGE}`, import.meta.url), 'utf8');
    expect(text.indexOf('<!-- bench:table:start -->')).toBeGreaterThan(-1);
    expect(text.indexOf('<!-- bench:table:end -->')).toBeGreaterThan(text.indexOf('<!-- bench:table:start -->'));
  });
});
