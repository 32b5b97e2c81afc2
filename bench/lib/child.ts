import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const register = fileURLToPath(new URL('./register.mjs', import.meta.url));

/** A benchmark's helper script (a peer's worker, a bare nats.js consumer) in its own process, with IPC. */
export interface ChildScript<M> {
  readonly child: ChildProcess;
  /** Resolves with the first message that `match` accepts (messages already received count too). */
  next<T extends M>(match: (message: M) => message is T, timeoutMs?: number): Promise<T>;
  send(message: unknown): void;
  /** Asks the script to stop (SIGTERM) and waits for it to exit. */
  stop(): Promise<void>;
  output(): string;
}

/**
 * Runs `bench/peers/<file>.ts` in a separate Node process, the way the framewire worker runs in its
 * own, so that every system is measured across the same process boundary.
 */
export function runScript<M extends { type: string }>(script: string, env: Record<string, string>): ChildScript<M> {
  const child = fork(fileURLToPath(new URL(`../peers/${script}`, import.meta.url)), [], {
    execArgv: ['--import', register],
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
  });
  const received: M[] = [];
  const waiters = new Set<(message: M) => boolean>();
  let text = '';
  child.stdout?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (text += chunk.toString()));
  child.on('message', (message) => {
    for (const waiter of waiters) if (waiter(message as M)) return;
    received.push(message as M);
  });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  return {
    child,
    output: () => text,
    send: (message) => child.send(message as never),
    next<T extends M>(match: (message: M) => message is T, timeoutMs = 60_000): Promise<T> {
      const index = received.findIndex(match);
      if (index >= 0) return Promise.resolve(received.splice(index, 1)[0] as T);
      return new Promise<T>((resolve, reject) => {
        const waiter = (message: M) => {
          if (!match(message)) return false;
          cleanup();
          resolve(message);
          return true;
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${script}: no matching message within ${timeoutMs} ms; its output:\n${text.slice(-3000)}`));
        }, timeoutMs);
        const onExit = () => {
          cleanup();
          reject(new Error(`${script} exited (${child.exitCode ?? child.signalCode}); its output:\n${text.slice(-3000)}`));
        };
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(waiter);
          child.off('exit', onExit);
        };
        waiters.add(waiter);
        child.once('exit', onExit);
      });
    },
    async stop() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** `is('ready')` narrows a child's message by its type. */
export const is =
  <M extends { type: string }, K extends M['type']>(type: K) =>
  (message: M): message is Extract<M, { type: K }> =>
    message.type === type;
