import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freeTcpPort } from '../../test/support/processes.js';
import { waitForJetStream } from '../../test/support/servers.js';
import { countFsyncs } from './fsyncs.js';
import type { BenchNats } from './types.js';

const run = promisify(execFile);

/** How the server syncs its JetStream store: before every ack, or on its own timer (2 minutes). */
export type SyncSetting = 'always' | 'default';

/** A server the runner started: its process, stopped (and its store removed) at the end of the run. */
export interface OwnNats extends BenchNats {
  readonly pid: number;
  stop(): Promise<void>;
}

/** The path `scripts/nats-server.sh` prints: a nats-server 2.12 or newer, fetched into the cache if needed. */
export async function durableServerBinary(repoRoot: string): Promise<string> {
  const { stdout } = await run('bash', [join(repoRoot, 'scripts', 'nats-server.sh')], { encoding: 'utf8' });
  const path = stdout.trim().split('\n').at(-1) ?? '';
  if (!path) throw new Error('scripts/nats-server.sh printed no path');
  return path;
}

export async function serverVersion(binary: string): Promise<string> {
  const { stdout } = await run(binary, ['--version'], { encoding: 'utf8' });
  const match = /v?(\d+\.\d+\.\d+)/.exec(stdout);
  if (!match) throw new Error(`${binary} --version printed ${JSON.stringify(stdout.trim())}`);
  return match[1]!;
}

/** `sync_interval` arrived in 2.10; 2.9 refuses the field, so it only runs with its default. */
export function supportsSyncInterval(version: string): boolean {
  const [major, minor] = version.split('.').map(Number) as [number, number];
  return major > 2 || (major === 2 && minor >= 10);
}

/** The server's config file: loopback, a free port, JetStream in `storeDir`, and `sync_interval: always` when asked. */
export function serverConfig(port: number, storeDir: string, sync: SyncSetting): string {
  return [
    `listen: 127.0.0.1:${port}`,
    'jetstream {',
    `  store_dir: ${JSON.stringify(storeDir)}`,
    ...(sync === 'always' ? ['  sync_interval: always'] : []),
    '}',
    '',
  ].join('\n');
}

export const syncLabel = (sync: SyncSetting): string => (sync === 'always' ? 'sync_interval: always' : 'default sync (2 min)');

/**
 * Starts `binary` on a free loopback port with its store in a new temp dir (removed by `stop`), and
 * waits until JetStream answers.
 */
export async function startOwnNats(binary: string, sync: SyncSetting): Promise<OwnNats> {
  const version = await serverVersion(binary);
  if (sync === 'always' && !supportsSyncInterval(version)) throw new Error(`nats-server ${version} (${binary}) has no sync_interval: always (2.10 or newer has)`);
  const dir = await mkdtemp(join(tmpdir(), 'framewire-bench-nats-'));
  const port = await freeTcpPort();
  const config = join(dir, 'nats.conf');
  await writeFile(config, serverConfig(port, join(dir, 'store'), sync));
  const child: ChildProcess = spawn(binary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-20_000)));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const url = `nats://127.0.0.1:${port}`;
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    await exited;
    clearTimeout(killer);
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([
      waitForJetStream(url, 20_000, () => log),
      exited.then(() => Promise.reject(new Error(`nats-server ${version} exited at start: ${log.slice(-2000)}`))),
    ]);
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    url,
    version,
    sync: syncLabel(sync),
    pid: child.pid!,
    countFsyncs: () => countFsyncs(child.pid!),
    stop,
  };
}

/** What rows measured on the comparison server say after their name. */
export const comparisonLabel = (server: BenchNats): string => `for comparison only: nats-server ${server.version}, ${server.sync}`;
