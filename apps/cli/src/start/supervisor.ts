import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import type { Readable } from 'node:stream';

export interface ServiceSpec {
  name: string;
  entry: string;
  env: NodeJS.ProcessEnv;
}

const RESTART_MIN_MS = 500;
const RESTART_MAX_MS = 30_000;
const STOP_TIMEOUT_MS = 30_000;

/** Where a service's output goes, a line at a time: its name, which stream, and the line. */
export type ServiceOutput = (service: string, stream: 'stdout' | 'stderr', line: string) => void;

/**
 * Runs services as child processes, restarting one that exits unexpectedly (with a growing delay),
 * and stops them all with SIGTERM, then SIGKILL after STOP_TIMEOUT_MS. Their output comes to
 * `output` line by line (so the launcher can show JSON records as readable lines, and count them);
 * they always write JSON (LOG_FORMAT=json), whatever the launcher shows.
 */
export class Supervisor {
  private readonly children = new Map<string, ChildProcess>();
  private stopping = false;

  constructor(
    private readonly log: (line: string) => void,
    private readonly output: ServiceOutput,
  ) {}

  start(spec: ServiceSpec, restartDelay = RESTART_MIN_MS): void {
    const child = spawn(process.execPath, ['--enable-source-maps', spec.entry], { env: { ...spec.env, LOG_FORMAT: 'json' }, stdio: ['ignore', 'pipe', 'pipe'] });
    this.forward(spec.name, 'stdout', child.stdout!);
    this.forward(spec.name, 'stderr', child.stderr!);
    const startedAt = Date.now();
    this.children.set(spec.name, child);
    child.once('exit', (code, signal) => {
      this.children.delete(spec.name);
      if (this.stopping) return;
      // A service that ran a while before dying is restarted quickly; one that dies at once, slower and slower.
      const delay = Date.now() - startedAt > 60_000 ? RESTART_MIN_MS : Math.min(restartDelay * 2, RESTART_MAX_MS);
      this.log(`${spec.name} exited (${signal ?? `code ${code}`}); restarting in ${delay} ms`);
      setTimeout(() => !this.stopping && this.start(spec, delay), delay);
    });
  }

  private forward(service: string, stream: 'stdout' | 'stderr', from: Readable): void {
    createInterface({ input: from, crlfDelay: Infinity }).on('line', (line) => this.output(service, stream, line));
  }

  async stopAll(): Promise<void> {
    this.stopping = true;
    const exits = [...this.children.values()].map(
      (child) =>
        new Promise<void>((resolve) => {
          if (child.exitCode !== null || child.signalCode !== null) return resolve();
          const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS);
          child.once('exit', () => {
            clearTimeout(timer);
            resolve();
          });
          child.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
  }
}
