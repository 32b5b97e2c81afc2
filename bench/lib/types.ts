/**
 * The contract between `npm run bench` and each benchmark. A benchmark is a module
 * `bench/<id>-<name>.bench.ts` whose default export is a `Benchmark`. The runner gives it a context
 * (loopback services, a scratch directory, bounds), collects what it returns, and writes
 * `bench/results/<timestamp>.json` plus a markdown table. Every figure is reported beside a baseline
 * measured in the same run, because absolute numbers drift between machines.
 *
 * The runner imports TypeScript directly (scripts/ts-hooks.mjs): `@app/<lib>` imports and
 * relative `./x.js` imports of `.ts` files work as they do in the tests. The apps are built before
 * any benchmark runs, so `dist/apps/<app>/apps/<app>/src/main.js` exists.
 */
export interface BenchContext {
  /** NATS with JetStream, on loopback. Use a fresh namespace or stream of your own. */
  natsUrl: string;
  /** A PostgreSQL database the benchmark may create schemas in. */
  databaseUrl: string;
  /** A scratch directory of this benchmark, removed afterwards. */
  workDir: string;
  /** Root of the repository (built apps are under dist/). */
  repoRoot: string;
  /** True for a short smoke run (CI): fewer iterations, same code paths. */
  quick: boolean;
  log(message: string): void;
  /**
   * Added later; optional so that older benchmarks and hand-made contexts still type-check.
   * Aborted when the benchmark has used up its time budget (`Benchmark.timeoutMs`): stop and return.
   */
  signal?: AbortSignal;
  /**
   * Results of the benchmarks that ran earlier in this run, the raw limits first. A benchmark may take
   * its baseline from here (for example `ctx.earlier?.('raw')`) instead of measuring it again.
   */
  earlier?(id: string): BenchResult | undefined;
  /**
   * The NATS server at `natsUrl`: its version and sync setting, and a counter of its fsyncs when the
   * runner started it. Optional, as `signal` is.
   */
  nats?: BenchNats;
  /**
   * A second server, measured for comparison only (by default Debian 12's nats-server 2.9.10 with its
   * default sync, in a full run): absent when the run has none.
   */
  comparisonNats?: BenchNats;
}

/** A NATS server the benchmarks run on. */
export interface BenchNats {
  readonly url: string;
  /** e.g. "2.15.1". */
  readonly version: string;
  /** Its durability in words, for the header and row labels, e.g. "sync_interval: always". */
  readonly sync: string;
  /** Counts the server's fsync and fdatasync calls from now on; null when the runner did not start it or no counter works here. */
  countFsyncs(): Promise<FsyncCount | null>;
}

/** A running count of one process's fsync and fdatasync calls. */
export interface FsyncCount {
  /** `perf` (kernel counters: the server is not slowed) or `strace` (ptrace: every system call of the server stops). */
  readonly tool: 'perf' | 'strace';
  /** Stops counting and resolves with the calls made since the count began. */
  stop(): Promise<number>;
}

export interface Measurement {
  /** What was measured, e.g. "enqueue→start p50". */
  name: string;
  unit: string;
  value: number;
  /** The same quantity for the reference it is compared with, from this run. */
  baseline?: { name: string; value: number };
  /** The goal in words, e.g. "≤ 1.1× raw ffmpeg", and whether this run met it. */
  goal?: string;
  met?: boolean;
  extra?: Record<string, unknown>;
}

export interface BenchResult {
  id: string;
  title: string;
  measurements: Measurement[];
  /** Latency samples in ms by series name, for the distribution chart. */
  samples?: Record<string, number[]>;
  notes?: string[];
}

export interface Benchmark {
  id: string;
  title: string;
  /** Wall-time budget of one run (full mode); the runner aborts `ctx.signal`, then gives up. Default 5 min. */
  timeoutMs?: number;
  run(ctx: BenchContext): Promise<BenchResult>;
}
