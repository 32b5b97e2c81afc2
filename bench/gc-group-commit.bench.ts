import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { jobSubjects } from '@app/contracts';
import { EventStore, eventStreamConfig, type GroupCommitFigures, type GroupCommitLimits } from '@app/event-store';
import { jobCompleted, jobStarted, videoSubmitted } from '../test/support/events.js';
import { freshName } from '../test/support/services.js';
import { distribution, round } from './lib/stats.js';
import type { Benchmark, Measurement } from './lib/types.js';

/**
 * Group commit A/B (docs/adr/0003-group-commit.md): EventStore.append by N concurrent appenders, each
 * awaiting its append before the next, with every append sent alone and with group commit, in the
 * same run, cell by cell (alone then grouped at each concurrency), on the same server. Two shapes:
 * - independent appends: each a new job's VideoSubmitted (expecting 0 on its own subject);
 * - the job shape: each appender runs jobs of three appends in order (VideoSubmitted, JobStarted,
 *   JobCompleted, each expecting the one before), as the raw job shape does but all through one
 *   EventStore, the best place to batch (no consumer, no second process): an upper bound.
 */
export type AbMode = 'alone' | 'grouped';

export interface AbCell {
  shape: 'appends' | 'jobs';
  mode: AbMode;
  concurrency: number;
  /** Appends (or jobs) per second, and the latency of one append (or job) in ms. */
  perSecond: number;
  p50: number;
  p99: number;
  count: number;
  figures: GroupCommitFigures | null;
}

export interface AbOptions {
  natsUrl: string;
  concurrencies: number[];
  /** Appends (or jobs) per appender and cell. */
  perAppender: (concurrency: number) => number;
  shapes?: AbCell['shape'][];
  limits?: Partial<GroupCommitLimits>;
  /** Wraps each cell (the fsync count in the ADR's harness attaches strace here). */
  around?: <T>(label: string, cell: () => Promise<T>) => Promise<T>;
  log?: (message: string) => void;
}

export async function groupCommitAB(options: AbOptions): Promise<AbCell[]> {
  const nc = await connect({ servers: options.natsUrl });
  const jsm = await jetstreamManager(nc);
  const subjects = jobSubjects(freshName('gcab'));
  await jsm.streams.add(eventStreamConfig(subjects));
  const around = options.around ?? ((_label, cell) => cell());
  const cells: AbCell[] = [];
  try {
    for (const shape of options.shapes ?? ['appends', 'jobs']) {
      for (const concurrency of options.concurrencies) {
        for (const mode of ['alone', 'grouped'] as const) {
          const store = new EventStore(nc, subjects, 10_000, mode === 'alone' ? false : (options.limits ?? {}));
          if (mode === 'grouped' && !(await store.groupCommitReady())) throw new Error('the stream does not take atomic batches (nats-server 2.12+ with allow_atomic)');
          const count = options.perAppender(concurrency);
          const cell = await around(`${shape} ${mode} c${concurrency}`, () => runCell(store, shape, concurrency, count));
          cells.push({ shape, mode, concurrency, ...cell, figures: store.groupCommitFigures() });
          options.log?.(`${shape} ${mode} c${concurrency}: ${Math.round(cell.perSecond)}/s p50 ${round(cell.p50, 2)} ms p99 ${round(cell.p99, 2)} ms`);
        }
      }
    }
  } finally {
    await jsm.streams.delete(subjects.streamName).catch(() => undefined);
    await nc.close();
  }
  return cells;
}

async function runCell(store: EventStore, shape: AbCell['shape'], concurrency: number, perAppender: number) {
  const latencies: number[] = [];
  const oneJob = async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const { seq: submittedSeq } = await store.append(submitted, 0);
    if (shape === 'appends') return;
    const started = jobStarted(submitted);
    // Every append expects the job's last sequence over its whole subject tree (ADR 0002).
    const { seq } = await store.append(started, submittedSeq);
    await store.append(jobCompleted(started), seq);
  };
  const start = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      for (let i = 0; i < perAppender; i++) {
        const t = process.hrtime.bigint();
        await oneJob();
        latencies.push(Number(process.hrtime.bigint() - t) / 1e6);
      }
    }),
  );
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  const d = distribution(latencies);
  return { perSecond: latencies.length / seconds, p50: d.p50, p99: d.p99, count: latencies.length };
}

const bench: Benchmark = {
  id: 'gc',
  title: 'Group commit A/B',
  timeoutMs: 6 * 60_000,
  async run(ctx) {
    const q = ctx.quick;
    const cells = await groupCommitAB({
      natsUrl: ctx.natsUrl,
      concurrencies: q ? [1, 16] : [1, 4, 16, 64],
      perAppender: (c) => (q ? 10 : Math.max(20, Math.round(2000 / c))),
      log: ctx.log,
    });
    const measurements: Measurement[] = [];
    for (const cell of cells.filter((c) => c.mode === 'grouped')) {
      const alone = cells.find((c) => c.shape === cell.shape && c.concurrency === cell.concurrency && c.mode === 'alone')!;
      const what = cell.shape === 'appends' ? 'appends' : 'jobs (3 appends)';
      const unit = cell.shape === 'appends' ? 'appends/s' : 'jobs/s';
      const batched = cell.figures ? round(cell.figures.batched / Math.max(1, cell.figures.batches), 1) : 0;
      measurements.push({
        name: `${what}, group commit, concurrency ${cell.concurrency}`,
        unit,
        value: round(cell.perSecond, 0),
        baseline: { name: 'each append alone', value: round(alone.perSecond, 0) },
        extra: { count: cell.count, meanBatch: batched, figures: cell.figures },
      });
      measurements.push({
        name: `${what} latency p50 / p99, group commit, concurrency ${cell.concurrency}`,
        unit: 'ms',
        value: round(cell.p50, 3),
        baseline: { name: 'each append alone', value: round(alone.p50, 3) },
        extra: { p99: round(cell.p99, 3), aloneP99: round(alone.p99, 3) },
      });
    }
    return {
      id: 'gc',
      title: 'Group commit A/B',
      measurements,
      notes: ['Closed-loop appenders through EventStore.append, each append alone (baseline) and with group commit, cell by cell in one run on one server.'],
    };
  },
};

export default bench;
