import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from './net-probe.js';

const run = promisify(execFile);

export interface LocalNats {
  url: string;
  /** The server's version, e.g. `2.15.1`. */
  version: string;
  durability: string;
  process: ChildProcess;
  /** Stops the server (SIGTERM lets it flush its store) and resolves once it has exited. */
  stop(): Promise<void>;
}

/**
 * The server config for a local JetStream: `syncInterval` is nats-server's `sync_interval`, `always`
 * (every acknowledged write is fsynced before the ack) or a Go duration such as `2m` (fsync on that
 * timer; quoted, since the config parser would read a bare `2m` as a size). `authorization` is the
 * block of users (see local-nats-users.ts).
 */
export function natsConfig(port: number, storeDir: string, syncInterval = 'always', authorization = ''): { text: string; durability: string } {
  const lines = [
    `listen: 127.0.0.1:${port}`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(storeDir)}`,
    `  sync_interval: ${syncInterval === 'always' ? 'always' : JSON.stringify(syncInterval)}`,
    '}',
    ...(authorization ? [authorization.trimEnd()] : []),
  ];
  return { text: `${lines.join('\n')}\n`, durability: durabilityOf(syncInterval) };
}

/** What `sync_interval` means for an acknowledged write, in the words the start banner uses. */
export function durabilityOf(syncInterval: string): string {
  return syncInterval === 'always'
    ? 'sync_interval: always (each write is on disk before its ack: a machine crash loses nothing acknowledged)'
    : `sync_interval: ${syncInterval} (fsync every ${syncInterval}: a machine crash can lose up to ${syncInterval} of acknowledged writes)`;
}

/** Users the server enforces: its `authorization` block, and the environment with the passwords that block refers to. */
export interface LocalNatsAuth {
  authorization: string;
  env: Record<string, string>;
}

export interface LocalNatsOptions {
  /** The nats-server to run (see natsServerBinary). */
  binary: string;
  /** Its `sync_interval` (NATS_SYNC_INTERVAL): `always` unless told otherwise. */
  syncInterval?: string;
}

/** Starts `binary` with JetStream and its store under `dataDir`, on a free port, enforcing `auth`'s users. */
export async function startLocalNats(dataDir: string, log: (line: string) => void, auth: LocalNatsAuth, options: LocalNatsOptions): Promise<LocalNats> {
  const versionText = (await run(options.binary, ['--version'])).stdout.trim();
  const version = /v?(\d+\.\d+\.\d+\S*)/.exec(versionText)?.[1] ?? versionText;
  const storeDir = join(dataDir, 'nats');
  mkdirSync(storeDir, { recursive: true });
  const port = await freePort(4222);
  const { text, durability } = natsConfig(port, storeDir, options.syncInterval, auth.authorization);
  const configPath = join(dataDir, 'nats-server.conf');
  writeFileSync(configPath, text);
  // The config names the password variables; their values reach the server through its environment only.
  const child = spawn(options.binary, ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...auth.env } });
  child.stderr?.on('data', (chunk: Buffer) => {
    for (const line of chunk.toString().split('\n')) if (/\[(ERR|FTL)\]/.test(line)) log(`nats-server: ${line.trim()}`);
  });
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`nats-server exited with ${code}`))));
  exited.catch(() => undefined); // after startup, an exit is the caller's business (see stop)
  await Promise.race([waitForPort('127.0.0.1', port, 15_000), exited]);
  const stop = () =>
    new Promise<void>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) return resolve();
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  return { url: `nats://127.0.0.1:${port}`, version, durability, process: child, stop };
}
