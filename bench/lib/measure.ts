import { setTimeout as sleep } from 'node:timers/promises';
import { msBetween } from './stats.js';

/** Start times of jobs, reported by whatever watches the worker; a waiter per job id. */
export class StartWatch {
  private readonly seen = new Map<string, bigint>();
  private readonly waiting = new Map<string, (t: bigint) => void>();

  record(id: string, t: bigint): void {
    const waiter = this.waiting.get(id);
    if (waiter) {
      this.waiting.delete(id);
      waiter(t);
    } else this.seen.set(id, t);
  }

  started(id: string, timeoutMs = 10_000): Promise<bigint> {
    const t = this.seen.get(id);
    if (t !== undefined) {
      this.seen.delete(id);
      return Promise.resolve(t);
    }
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`job ${id} did not start within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiting.set(id, (started) => {
        clearTimeout(timer);
        resolve(started);
      });
    });
  }
}

export interface LatencyRun {
  /** Enqueues one job and returns its id and the hrtime at which the enqueue was acknowledged. */
  enqueue(): Promise<{ id: string; acked: bigint }>;
  watch: StartWatch;
  count: number;
  warmup: number;
  /** Idle time after each start, so that every job meets an idle worker. */
  gapMs: number;
  signal?: AbortSignal;
}

/** Enqueue-to-start latency on an idle system: one job at a time, each after the last has started and settled. */
export async function enqueueToStart(run: LatencyRun): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < run.warmup + run.count; i++) {
    if (run.signal?.aborted) break;
    const { id, acked } = await run.enqueue();
    const started = await run.watch.started(id);
    if (i >= run.warmup) samples.push(msBetween(acked, started));
    await sleep(run.gapMs);
  }
  return samples;
}
