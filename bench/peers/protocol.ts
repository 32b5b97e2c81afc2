/**
 * Messages from a peer's worker script (bench/peers/*-worker.ts) to the benchmark, over Node's IPC.
 * Times are `process.hrtime.bigint()` readings as decimal strings: the system's monotonic clock, the
 * same in every process on the machine.
 */
export type PeerMessage =
  | { type: 'ready' }
  /** Latency mode: a job's handler began (for the raw job shape: after its "started" append). */
  | { type: 'started'; id: string; t: string }
  /** Throughput mode: `count` jobs done, from the first handler start to the last completion. */
  | { type: 'done'; count: number; first: string; last: string }
  | { type: 'error'; message: string };

export function send(message: PeerMessage): void {
  process.send?.(message);
}

export const now = (): string => process.hrtime.bigint().toString();

/** Runs at most `limit` handlers at a time over an async sequence, as a worker's slots would. */
export async function runWithSlots<T>(items: AsyncIterable<T>, limit: number, handle: (item: T) => Promise<void>): Promise<void> {
  const running = new Set<Promise<void>>();
  for await (const item of items) {
    const task = handle(item).finally(() => running.delete(task));
    running.add(task);
    if (running.size >= limit) await Promise.race(running);
  }
  await Promise.all(running);
}

/** Counts completions in throughput mode and reports once all expected jobs are done. */
export class Tally {
  private first: string | null = null;
  private count = 0;
  constructor(private readonly expect: number) {}

  started(): void {
    this.first ??= now();
  }

  completed(): void {
    this.count += 1;
    if (this.count === this.expect) send({ type: 'done', count: this.count, first: this.first!, last: now() });
  }
}

export function peerEnv(): { mode: 'latency' | 'throughput'; concurrency: number; expect: number } {
  const mode = process.env['MODE'] === 'latency' ? 'latency' : 'throughput';
  return { mode, concurrency: Number(process.env['CONCURRENCY'] ?? '1'), expect: Number(process.env['EXPECT'] ?? '0') };
}

/** Exit cleanly on SIGTERM after `close`, and report a crash instead of dying silently. */
export function onStop(close: () => Promise<void>): void {
  process.once('SIGTERM', () => {
    void close().finally(() => process.exit(0));
  });
  process.on('unhandledRejection', (error) => {
    send({ type: 'error', message: error instanceof Error ? error.stack ?? error.message : String(error) });
    process.exit(1);
  });
}
