import { dirname, join, relative } from 'node:path';
import type { BenchResult, Measurement } from './types.js';
import { distribution } from './stats.js';

/** One benchmark's entry in a run's JSON: its result, how long it took, and its error if it failed. */
export interface RunEntry extends BenchResult {
  durationMs: number;
  error?: string;
}

export interface RunReport {
  schema: 1;
  startedAt: string;
  finishedAt: string;
  quick: boolean;
  machine: Record<string, unknown>;
  git: { commit: string; dirty: boolean } | null;
  benchmarks: RunEntry[];
}

const fmt = (value: number): string => {
  if (!Number.isFinite(value)) return String(value);
  const abs = Math.abs(value);
  const digits = abs >= 1000 ? 0 : abs >= 100 ? 1 : abs >= 10 ? 2 : 3;
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
};

function ratioCell(m: Measurement): string {
  if (!m.baseline || !m.baseline.value) return '';
  return `${fmt(m.value / m.baseline.value)}×`;
}

const escape = (text: string) => text.replace(/\|/g, '\\|');

/** The results table: every figure beside its baseline from the same run, the goal, and whether it was met. */
export function markdownTable(report: RunReport): string {
  const lines: string[] = [];
  const m = report.machine;
  const within = (key: string) => (m[key] === undefined ? '' : ` (${String(m[key])})`);
  const nats = `nats-server ${String(m['natsServer'])}${m['natsSync'] === undefined ? '' : ` with ${String(m['natsSync'])}${m['natsStartedByBench'] ? ', started by the bench' : ''}`}`;
  lines.push(
    `Run of ${report.startedAt}${report.quick ? ' (quick mode: tiny counts, figures are not meaningful)' : ''}: ` +
      `${String(m['cpus'])} × ${String(m['cpuModel'])}, Node ${String(m['node'])}, ${nats}, ` +
      `${String(m['postgres'])}${within('postgresDurability')}, ${String(m['redisServer'])}; load average before ${String(m['loadBefore'])}, after ${String(m['loadAfter'])}.` +
      (m['comparisonNats'] === undefined ? '' : ` Rows marked "for comparison only" ran on nats-server ${String(m['comparisonNats'])}.`),
    '',
    '| Benchmark | Measurement | Value | Baseline (same run) | Ratio | Goal | Met |',
    '| --- | --- | ---: | --- | ---: | --- | :---: |',
  );
  for (const bench of report.benchmarks) {
    if (bench.error) {
      lines.push(`| ${bench.id} ${escape(bench.title)} | **failed** | | | | | ${escape(bench.error.split('\n')[0]!.slice(0, 160))} |`);
      continue;
    }
    for (const [i, item] of bench.measurements.entries()) {
      const label = i === 0 ? `${bench.id} ${escape(bench.title)}` : '';
      const baseline = item.baseline ? `${escape(item.baseline.name)}: ${fmt(item.baseline.value)} ${item.unit}` : '';
      const met = item.met === undefined ? '' : item.met ? 'yes' : '**no**';
      lines.push(`| ${label} | ${escape(item.name)} | ${fmt(item.value)} ${item.unit} | ${baseline} | ${ratioCell(item)} | ${escape(item.goal ?? '')} | ${met} |`);
    }
  }
  const notes = report.benchmarks.flatMap((bench) => (bench.notes ?? []).map((note) => `- ${bench.id}: ${note}`));
  if (notes.length) lines.push('', ...notes);
  return lines.join('\n') + '\n';
}

const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf'];

/**
 * The latency distributions as an SVG, one panel per benchmark with samples: each series is a
 * cumulative distribution over a logarithmic latency axis, with the fraction on a tail-stretching
 * scale (0, 50, 90, 99, 99.9%: equal steps of -log10(1 - q)) so that p99s can be compared; the
 * legend below gives each series' p50, p99 and max.
 */
export function latencyChart(report: RunReport): string {
  const panels = report.benchmarks.filter((b) => !b.error && b.samples && Object.values(b.samples).some((s) => s.length > 0));
  const width = 760;
  const margin = { left: 60, right: 20, top: 36, bottom: 50 };
  const plotH = 230;
  const heights = panels.map((b) => margin.top + plotH + margin.bottom + 18 * Object.values(b.samples!).filter((s) => s.length > 0).length + 14);
  const height = Math.max(60, heights.reduce((a, b) => a + b, 0));
  const parts: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="12">`,
    `<rect width="${width}" height="${height}" fill="white"/>`,
  ];
  if (panels.length === 0) parts.push(`<text x="20" y="30">No latency samples in this run.</text>`);
  let offset = 0;
  panels.forEach((bench, index) => {
    const series = Object.entries(bench.samples!).filter(([, s]) => s.length > 0);
    const all = series.flatMap(([, s]) => s).filter((v) => v > 0);
    const lo = Math.log10(Math.max(0.01, Math.min(...all, 1)));
    const hi = Math.log10(Math.max(...all, 1) * 1.05);
    const x0 = Math.floor(lo);
    const x1 = Math.max(x0 + 1, Math.ceil(hi));
    const top = offset + margin.top;
    offset += heights[index]!;
    const plotW = width - margin.left - margin.right;
    const x = (ms: number) => margin.left + ((Math.log10(Math.max(ms, 10 ** x0)) - x0) / (x1 - x0)) * plotW;
    const y = (q: number) => top + (1 - -Math.log10(1 - Math.min(q, 0.999)) / 3) * plotH;
    parts.push(`<text x="${margin.left}" y="${top - 14}" font-weight="bold">${xml(`${bench.id} ${bench.title}: latency distribution`)}</text>`);
    parts.push(`<rect x="${margin.left}" y="${top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`);
    for (let decade = x0; decade <= x1; decade++) {
      for (const step of [1, 2, 5]) {
        const value = step * 10 ** decade;
        if (Math.log10(value) > x1 + 1e-9) continue;
        const px = x(value).toFixed(1);
        parts.push(`<line x1="${px}" y1="${top}" x2="${px}" y2="${top + plotH}" stroke="#eee"/>`);
        parts.push(`<text x="${px}" y="${top + plotH + 16}" text-anchor="middle" fill="#444">${value >= 1 ? value : value.toPrecision(1)}</text>`);
      }
    }
    for (const [q, label] of [[0, '0%'], [0.5, 'p50'], [0.9, 'p90'], [0.99, 'p99'], [0.999, 'p99.9']] as const) {
      const py = y(q).toFixed(1);
      parts.push(`<line x1="${margin.left}" y1="${py}" x2="${margin.left + plotW}" y2="${py}" stroke="#eee"/>`);
      parts.push(`<text x="${margin.left - 6}" y="${py}" text-anchor="end" dominant-baseline="middle" fill="#444">${label}</text>`);
    }
    const floor = 10 ** x0;
    parts.push(`<text x="${margin.left + plotW / 2}" y="${top + plotH + 34}" text-anchor="middle">${xml(`milliseconds, log scale (values below ${floor} ms, negative ones included, are drawn at ${floor} ms)`)}</text>`);
    series.forEach(([name, samples], i) => {
      const sorted = [...samples].sort((a, b) => a - b);
      const points = sorted.map((v, k) => `${x(v).toFixed(1)},${y((k + 1) / sorted.length).toFixed(1)}`);
      const color = COLORS[i % COLORS.length]!;
      parts.push(`<polyline fill="none" stroke="${color}" stroke-width="1.8" points="${x(sorted[0]!).toFixed(1)},${y(0).toFixed(1)} ${points.join(' ')}"/>`);
      const d = distribution(samples);
      const ly = top + plotH + margin.bottom + 4 + i * 18;
      parts.push(`<line x1="${margin.left}" y1="${ly}" x2="${margin.left + 20}" y2="${ly}" stroke="${color}" stroke-width="3"/>`);
      parts.push(`<text x="${margin.left + 26}" y="${ly + 4}">${xml(`${name}: p50 ${fmt(d.p50)} ms, p99 ${fmt(d.p99)} ms, max ${fmt(d.max)} ms (n=${d.n})`)}</text>`);
    });
  });
  parts.push('</svg>');
  return parts.join('\n') + '\n';
}

function xml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** Problems with a run's JSON (empty when it is well formed): what the smoke test checks. */
export function problemsOf(report: RunReport): string[] {
  const problems: string[] = [];
  if (report.schema !== 1) problems.push('schema is not 1');
  if (!Array.isArray(report.benchmarks) || report.benchmarks.length === 0) problems.push('no benchmarks');
  for (const bench of report.benchmarks ?? []) {
    if (bench.error) problems.push(`${bench.id} failed: ${bench.error}`);
    if (!bench.error && bench.measurements.length === 0) problems.push(`${bench.id} measured nothing`);
    for (const m of bench.measurements) {
      if (!Number.isFinite(m.value)) problems.push(`${bench.id} "${m.name}" is ${m.value}`);
      if (!m.unit) problems.push(`${bench.id} "${m.name}" has no unit`);
      if (m.baseline && !Number.isFinite(m.baseline.value)) problems.push(`${bench.id} "${m.name}" baseline is ${m.baseline.value}`);
    }
    for (const [name, samples] of Object.entries(bench.samples ?? {})) {
      // A sample may be slightly negative: a worker can start a job before the enqueuer has read its ack.
      if (!samples.every((v) => Number.isFinite(v))) problems.push(`${bench.id} samples "${name}" hold a value that is not a number`);
    }
  }
  return problems;
}

/** The page, relative to the repository root, whose table `npm run bench -- --docs` replaces. */
export const TABLE_PAGE = 'docs/performance.md';
const TABLE_START = '<!-- bench:table:start -->';
const TABLE_END = '<!-- bench:table:end -->';

/**
 * `text` (the page `run.page`, relative to `run.root`) with `table` between its bench markers, headed by
 * links to the run's .json and .svg (`run.base` without its extension), relative to the page's folder.
 */
export function withBenchTable(text: string, table: string, run: { root: string; page: string; base: string }): string {
  const start = text.indexOf(TABLE_START);
  const end = text.indexOf(TABLE_END);
  if (start < 0 || end < start) throw new Error(`${run.page} has no ${TABLE_START} ... ${TABLE_END} section`);
  const inside = !relative(run.root, run.base).startsWith('..');
  const name = inside ? relative(run.root, run.base) : run.base;
  const link = relative(dirname(join(run.root, run.page)), run.base);
  const source = `The run behind this table: [\`${name}.json\`](${link}.json); its latency distributions: [\`${name}.svg\`](${link}.svg).\n\n`;
  return `${text.slice(0, start + TABLE_START.length)}\n${source}${table}${text.slice(end)}`;
}
