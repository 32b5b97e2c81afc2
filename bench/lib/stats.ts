import type { Measurement } from './types.js';

export interface Distribution {
  n: number;
  p50: number;
  p90: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1]!;
}

export function distribution(samples: readonly number[]): Distribution {
  const sorted = [...samples].sort((a, b) => a - b);
  const sum = sorted.reduce((a, b) => a + b, 0);
  return {
    n: sorted.length,
    p50: percentile(sorted, 50),
    p90: percentile(sorted, 90),
    p99: percentile(sorted, 99),
    max: sorted.at(-1) ?? Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

export const round = (value: number, digits = 3): number => {
  if (!Number.isFinite(value)) return value;
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
};

/** Elapsed milliseconds between two `process.hrtime.bigint()` readings. */
export const msBetween = (from: bigint, to: bigint): number => Number(to - from) / 1e6;

/** Events (or bytes) per second over a span of hrtime readings. */
export const perSecond = (count: number, from: bigint, to: bigint): number => (count * 1e9) / Number(to - from);

/** Compares a value with a baseline as a ratio, e.g. 0.93 for "93% of the baseline". */
export function ratio(value: number, baseline: number | undefined): number | undefined {
  if (baseline === undefined || !Number.isFinite(baseline) || baseline === 0) return undefined;
  return value / baseline;
}

/** p50, p90, p99 and max of a latency series as measurements, each beside the same percentile of a baseline. */
export function latencyMeasurements(
  series: string,
  samples: readonly number[],
  baseline?: { name: string; samples: readonly number[] },
): Measurement[] {
  const d = distribution(samples);
  const b = baseline ? distribution(baseline.samples) : undefined;
  return (['p50', 'p90', 'p99', 'max'] as const).map((key) => ({
    name: `${series} ${key}`,
    unit: 'ms',
    value: round(d[key]),
    ...(b && baseline ? { baseline: { name: `${baseline.name} ${key}`, value: round(b[key]) } } : {}),
    extra: { n: d.n },
  }));
}
