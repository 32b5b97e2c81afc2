import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, existsSync } from 'node:fs';
import { join } from 'node:path';

export type AppName = 'gateway' | 'jobs' | 'worker';

const root = new URL('../..', import.meta.url).pathname;

/** Where `nest build` puts an app's entry point. */
export function builtEntry(app: AppName): string {
  const entry = join(root, 'dist', 'apps', app, 'apps', app, 'src', 'main.js');
  if (!existsSync(entry)) throw new Error(`${entry} is missing: run "npm run build" before the e2e tests`);
  return entry;
}

/** One built app running as its own OS process, the way `npm run start:<app>` runs it. */
export interface ServiceProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Everything the process wrote, stdout and stderr interleaved. */
  output(): string;
  /** Resolves with the first output line matching `pattern`, including lines already written. */
  waitForLine(pattern: RegExp, timeoutMs?: number): Promise<string>;
  /** Sends `signal` and resolves with the exit code (or signal name) once the process is gone. */
  stop(signal?: NodeJS.Signals): Promise<number | string>;
  /** Resolves with the exit code (or signal name) when the process ends by itself. */
  exited(): Promise<number | string>;
}

/** `nodeArgs` go to node before the entry point (for example `--cpu-prof`). */
export function spawnService(name: string, app: AppName, env: Record<string, string>, nodeArgs: string[] = []): ServiceProcess {
  return spawnProcess(name, ['--enable-source-maps', ...nodeArgs, builtEntry(app)], env);
}

function spawnProcess(name: string, args: string[], env: Record<string, string>): ServiceProcess {
  const child = spawn(process.execPath, args, {
    // Each service's ops listener takes any free port unless a test asks for one, so parallel tests never collide.
    env: { PATH: process.env['PATH'] ?? '', HOME: process.env['HOME'] ?? '', LOG_LEVEL: 'info', OPS_HOST: '127.0.0.1', OPS_PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const lines: string[] = [];
  // For a run to look into afterwards (the chaos run's services come and go): every line in <dir>/<name>.log.
  const logDir = process.env['FRAMEWIRE_TEST_LOG_DIR'];
  const logFile = logDir ? join(logDir, `${name}.log`) : null;
  const waiters = new Set<{ pattern: RegExp; resolve: (line: string) => void }>();
  let partial = '';
  const onData = (chunk: Buffer) => {
    const text = partial + chunk.toString();
    const complete = text.split('\n');
    partial = complete.pop() ?? '';
    if (logFile && complete.length > 0) appendFileSync(logFile, `${complete.join('\n')}\n`);
    for (const line of complete) {
      lines.push(line);
      for (const waiter of waiters) {
        if (waiter.pattern.test(line)) {
          waiters.delete(waiter);
          waiter.resolve(line);
        }
      }
    }
  };
  child.stdout?.on('data', onData);
  child.stderr?.on('data', onData);
  const exited = new Promise<number | string>((resolve) => child.once('exit', (code, signal) => resolve(code ?? signal ?? 'unknown')));

  return {
    name,
    child,
    output: () => [...lines, partial].join('\n'),
    waitForLine(pattern, timeoutMs = 30_000) {
      const seen = lines.find((line) => pattern.test(line));
      if (seen) return Promise.resolve(seen);
      return new Promise<string>((resolve, reject) => {
        const waiter = { pattern, resolve: (line: string) => (clearTimeout(timer), resolve(line)) };
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`${name} wrote no line matching ${pattern} within ${timeoutMs} ms; its output:\n${lines.slice(-40).join('\n')}`));
        }, timeoutMs);
        waiters.add(waiter);
        void exited.then((code) => {
          if (!waiters.delete(waiter)) return;
          clearTimeout(timer);
          reject(new Error(`${name} exited (${code}) before writing a line matching ${pattern}; its output:\n${lines.slice(-40).join('\n')}`));
        });
      });
    },
    exited: () => exited,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}

/** A TCP port that is free on 127.0.0.1 right now. */
/**
 * A test file's `start(name, app, extra)`: each service spawned with the environment `base()` gives
 * then (NATS, PostgreSQL, schema and namespace are made in beforeAll), plus `extra`, and kept in
 * `services` by its name.
 */
export function serviceStarter(base: () => Record<string, string>, services: Map<string, ServiceProcess>) {
  return (name: string, app: AppName, extra: Record<string, string> = {}): ServiceProcess => {
    const service = spawnService(name, app, { ...base(), ...extra });
    services.set(name, service);
    return service;
  };
}

export async function freeTcpPort(): Promise<number> {
  const { createServer } = await import('node:net');
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Runs `framewire <args>` (the built CLI, through bin/framewire.js) as a process. */
export function spawnCli(name: string, args: string[], env: Record<string, string> = {}): ServiceProcess {
  return spawnProcess(name, [join(root, 'bin', 'framewire.js'), ...args], env);
}
