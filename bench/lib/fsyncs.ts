import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { round } from './stats.js';
import type { FsyncCount, Measurement } from './types.js';

/** How long a counter gets to attach before the phase it counts begins. */
const ATTACH_MS = 500;

/**
 * Counts `pid`'s fsync and fdatasync calls (all its threads, and threads it starts later) with
 * `perf stat` on the syscall tracepoints when it can (no cost to the server), else with
 * `strace -c -p` (which stops the server at every system call, so the phase runs slower); null when
 * neither works here (perf needs access to tracepoints, strace the right to trace the process).
 * `BENCH_FSYNC_COUNTER=perf|strace|none` picks one.
 */
export async function countFsyncs(pid: number): Promise<FsyncCount | null> {
  const wanted = process.env['BENCH_FSYNC_COUNTER'];
  if (wanted === 'none') return null;
  for (const tool of wanted === 'strace' ? (['strace'] as const) : wanted === 'perf' ? (['perf'] as const) : (['perf', 'strace'] as const)) {
    const count = await attach(tool, pid).catch(() => null);
    if (count) return count;
  }
  return null;
}

async function attach(tool: 'perf' | 'strace', pid: number): Promise<FsyncCount | null> {
  const dir = await mkdtemp(join(tmpdir(), 'framewire-bench-fsyncs-'));
  const out = join(dir, 'count.txt');
  const args =
    tool === 'perf'
      ? ['stat', '-x', ',', '-e', 'syscalls:sys_enter_fsync,syscalls:sys_enter_fdatasync', '-p', String(pid), '-o', out]
      : ['-f', '-c', '-q', '-e', 'trace=fsync,fdatasync', '-p', String(pid), '-o', out];
  const child = spawn(tool, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => resolve());
    child.once('error', () => resolve());
  });
  const early = await Promise.race([exited.then(() => true), sleep(ATTACH_MS).then(() => false)]);
  if (early) {
    await rm(dir, { recursive: true, force: true });
    return null;
  }
  return {
    tool,
    async stop() {
      child.kill('SIGINT');
      await exited;
      try {
        const text = await readFile(out, 'utf8');
        const calls = tool === 'perf' ? perfCalls(text) : straceCalls(text);
        if (calls === null) throw new Error(`${tool} counted nothing readable: ${text.slice(0, 500)} ${stderr.slice(0, 500)}`);
        return calls;
      } finally {
        await rm(dir, { recursive: true, force: true });
      }
    },
  };
}

/** The sum of the counts in `perf stat -x ,` output ("123,,syscalls:sys_enter_fsync,..."); null if a counter did not count. */
export function perfCalls(text: string): number | null {
  let total = 0;
  let seen = 0;
  for (const line of text.split('\n')) {
    const fields = line.split(',');
    if (fields.length < 3 || !fields[2]?.startsWith('syscalls:')) continue;
    const value = Number(fields[0]);
    if (!Number.isFinite(value)) return null;
    total += value;
    seen += 1;
  }
  return seen > 0 ? total : null;
}

/** The calls of fsync and fdatasync in `strace -c`'s summary table (0 when it lists neither); null if there is no table. */
export function straceCalls(text: string): number | null {
  if (!/% time\s+seconds/.test(text)) return null;
  let total = 0;
  for (const line of text.split('\n')) {
    const fields = line.trim().split(/\s+/);
    const name = fields.at(-1);
    if ((name === 'fsync' || name === 'fdatasync') && fields.length >= 5) total += Number(fields[3]);
  }
  return total;
}

/** What a phase appended and how many fsyncs the server made meanwhile. */
export interface FsyncCensus {
  events: number;
  fsyncs: number;
  tool: 'perf' | 'strace';
}

/**
 * Runs `phase` while counting the server's fsyncs, and reads the events appended from `lastSeq`
 * before and after. `census` is undefined when the server's fsyncs can't be counted.
 */
export async function withFsyncCensus<T>(
  server: { countFsyncs(): Promise<FsyncCount | null> } | undefined,
  lastSeq: () => Promise<number>,
  phase: () => Promise<T>,
): Promise<{ result: T; census?: FsyncCensus }> {
  const count = server ? await server.countFsyncs() : null;
  if (!count) return { result: await phase() };
  try {
    const before = await lastSeq();
    const result = await phase();
    const after = await lastSeq();
    const fsyncs = await count.stop();
    return { result, census: { events: after - before, fsyncs, tool: count.tool } };
  } catch (error) {
    await count.stop().catch(() => undefined);
    throw error;
  }
}

/** A census as table rows: the events appended per fsync (when there were fsyncs), with the counts in `extra`. */
export function censusMeasurements(phase: string, census: FsyncCensus | undefined): Measurement[] {
  if (!census) return [];
  const extra = { events: census.events, fsyncs: census.fsyncs, counter: census.tool };
  if (census.fsyncs === 0) return [{ name: `nats-server fsync calls, ${phase} (${census.events} events appended)`, unit: 'calls', value: 0, extra }];
  return [{ name: `events appended per nats-server fsync, ${phase}`, unit: 'events', value: round(census.events / census.fsyncs, 3), extra }];
}
