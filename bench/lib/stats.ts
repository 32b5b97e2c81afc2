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

/**
 * Epoch milliseconds, with the fraction, of an RFC 3339 time with up to nanoseconds, as nats-server
 * stamps a stored message ("2026-12-05T11:52:35.123456789Z"): `Date` keeps only whole milliseconds.
 */
export function epochMsOf(time: string): number {
  const match = /^(.*T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})$/.exec(time);
  if (!match) return Number.NaN;
  const [, seconds, fraction = '', zone] = match;
  return Date.parse(`${seconds}${zone}`) + Number(`0.${fraction || '0'}`) * 1000;
}

/**
 * Events per second in the middle of a run: from the `from` to the `to` share of the events (by
 * count), so that the ramp at the start and the stragglers at the end do not count. `times` are
 * milliseconds, in any order.
 */
export function steadyRate(times: readonly number[], from = 0.1, to = 0.9): number {
  const sorted = [...times].sort((a, b) => a - b);
  const first = Math.floor(from * (sorted.length - 1));
  const last = Math.ceil(to * (sorted.length - 1));
  if (last <= first) return Number.NaN;
  return ((last - first) * 1000) / (sorted[last]! - sorted[first]!);
}
