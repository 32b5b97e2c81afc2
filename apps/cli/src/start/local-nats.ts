import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort, waitForPort } from './net-probe.js';

const run = promisify(execFile);

export interface LocalNats {
  url: string;
  version: string;
  durability: string;
  process: ChildProcess;
  /** Stops the server (SIGTERM lets it flush its store) and resolves once it has exited. */
  stop(): Promise<void>;
}

/** Parses `nats-server: v2.9.10` into [2, 9, 10]. */
export function parseNatsVersion(output: string): [number, number, number] | null {
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(output);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
}

/**
 * The server config for a local JetStream. From 2.10 on, `sync_interval: always` makes every
 * acknowledged write reach the disk before the ack; 2.9 refuses that field and would not start, so
 * there the default applies (written to the OS at once, fsynced on a timer). `authorization` is the
 * block of users (see local-nats-users.ts).
 */
export function natsConfig(version: [number, number, number], port: number, storeDir: string, authorization = ''): { text: string; durability: string } {
  const syncAlways = version[0] > 2 || (version[0] === 2 && version[1] >= 10);
  const lines = [
    `listen: 127.0.0.1:${port}`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(storeDir)}`,
    ...(syncAlways ? ['  sync_interval: always'] : []),
    '}',
    ...(authorization ? [authorization.trimEnd()] : []),
  ];
  const durability = syncAlways
    ? 'sync_interval: always (every acknowledged write is fsynced)'
    : 'default sync (2.9 refuses sync_interval): survives a killed server, not a machine crash';
  return { text: `${lines.join('\n')}\n`, durability };
}

/** Users the server enforces: its `authorization` block, and the environment with the passwords that block refers to. */
export interface LocalNatsAuth {
  authorization: string;
  env: Record<string, string>;
}

/** Starts nats-server from PATH with JetStream and its store under `dataDir`, enforcing `auth`'s users. */
export async function startLocalNats(dataDir: string, log: (line: string) => void, auth: LocalNatsAuth): Promise<LocalNats> {
  let versionText: string;
  try {
    versionText = (await run('nats-server', ['--version'])).stdout.trim();
  } catch {
    throw new Error('NATS is not reachable and there is no nats-server on PATH to start (install nats-server, or set NATS_URL)');
  }
  const version = parseNatsVersion(versionText);
  if (!version) throw new Error(`cannot read the nats-server version from "${versionText}"`);
  const storeDir = join(dataDir, 'nats');
  mkdirSync(storeDir, { recursive: true });
  const port = await freePort(4222);
  const { text, durability } = natsConfig(version, port, storeDir, auth.authorization);
  const configPath = join(dataDir, 'nats-server.conf');
  writeFileSync(configPath, text);
  // The config names the password variables; their values reach the server through its environment only.
  const child = spawn('nats-server', ['-c', configPath], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...auth.env } });
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
  return { url: `nats://127.0.0.1:${port}`, version: versionText, durability, process: child, stop };
}
