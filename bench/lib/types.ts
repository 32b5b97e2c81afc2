/**
 * The contract between `npm run bench` and each benchmark. A benchmark is a module
 * `bench/<id>-<name>.bench.ts` whose default export is a `Benchmark`. The runner gives it a context
 * (loopback services, a scratch directory, bounds), collects what it returns, and writes
 * `bench/results/<timestamp>.json` plus a markdown table. Every figure is reported beside a baseline
 * measured in the same run, because absolute numbers drift between machines.
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
  run(ctx: BenchContext): Promise<BenchResult>;
}
