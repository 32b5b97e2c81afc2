import { describe, expect, it } from '@jest/globals';
import type { JobView } from '@app/contracts';
import { partBars } from './split-parts';

type Part = JobView['parts'][number];

const part = (index: number, start: number, end: number | null, rest: Partial<Part> = {}): Part => ({
  index,
  start,
  end,
  status: 'queued',
  attempts: 0,
  worker_id: null,
  progress: 0,
  ...rest,
});

/** Three parts cut near each minute: 0–61.2, 61.2–120.4, and the last to the end. */
const parts = [
  part(0, 0, 61.2, { status: 'completed', attempts: 1, worker_id: 'worker-a', progress: 100 }),
  part(1, 61.2, 120.4, { status: 'running', attempts: 2, worker_id: 'worker-b', progress: 40 }),
  part(2, 120.4, null),
];
const widths = (bars: ReturnType<typeof partBars>) => bars.map((b) => Math.round(b.width * 100) / 100);

describe("a split job's row of parts", () => {
  it('makes each bar as wide as its span, the last one up to the known duration', () => {
    const bars = partBars({ status: 'running', parts }, 150.4);
    expect(widths(bars)).toEqual([40.69, 39.36, 19.95]);
    expect(bars.reduce((sum, b) => sum + b.width, 0)).toBeCloseTo(100, 9);
    expect(bars.map((b) => [b.index, b.status, b.fill])).toEqual([
      [0, 'completed', 100],
      [1, 'running', 40],
      [2, 'queued', 0],
    ]);
  });

  it('gives every bar the same width while the duration is not known', () => {
    expect(widths(partBars({ status: 'running', parts }, null))).toEqual([33.33, 33.33, 33.33]);
    expect(widths(partBars({ status: 'running', parts }, Number.NaN))).toEqual([33.33, 33.33, 33.33]);
  });

  it('keeps a sliver for a last part whose start is past a duration read short', () => {
    const bars = partBars({ status: 'running', parts }, 120);
    expect(bars[2]!.width).toBeGreaterThan(0);
    expect(bars[2]!.width).toBeLessThan(0.01);
  });

  it('lists the bars in index order whatever order the parts come in', () => {
    expect(partBars({ status: 'running', parts: [parts[2]!, parts[0]!, parts[1]!] }, 150.4).map((b) => b.index)).toEqual([0, 1, 2]);
  });

  it("tells in each bar's tooltip its index, span, status, attempts and worker", () => {
    const bars = partBars({ status: 'running', parts }, 150.4);
    expect(bars.map((b) => b.title)).toEqual([
      'part 0 · 0:00.0–1:01.2 · completed · attempt 1 · worker-a',
      'part 1 · 1:01.2–2:00.4 · running 40% · attempt 2 · worker-b',
      'part 2 · 2:00.4–2:30.4 · queued · not started · no worker',
    ]);
    expect(partBars({ status: 'running', parts }, null)[2]!.title).toBe('part 2 · 2:00.4–end · queued · not started · no worker');
  });

  it('shows the parts a cancelled or failed job left queued or running as stopped, and the others as they are', () => {
    for (const status of ['cancelled', 'failed'] as const) {
      expect(partBars({ status, parts }, 150.4).map((b) => b.status)).toEqual(['completed', 'stopped', 'stopped']);
    }
  });

  it('has no bars for a job run whole', () => {
    expect(partBars({ status: 'completed', parts: [] }, 10)).toEqual([]);
  });
});
