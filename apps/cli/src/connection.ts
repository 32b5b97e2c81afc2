import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { projectRoot } from './project-root.js';
import { readLocalNatsPasswords } from './start/local-nats-users.js';

/**
 * Where a command looks for PostgreSQL when nothing tells it: as psql would connect (PGHOST, PGPORT,
 * PGUSER, PGDATABASE; else 127.0.0.1:5432 as this OS user), in the database `framewire start` creates.
 */
export function defaultDatabaseUrl(env: NodeJS.ProcessEnv = process.env): string {
  const user = encodeURIComponent(env['PGUSER'] || userInfo().username);
  const host = env['PGHOST'] || '127.0.0.1';
  const port = env['PGPORT'] || '5432';
  const database = encodeURIComponent(env['PGDATABASE'] || 'framewire');
  return `postgres://${user}@${host}:${port}/${database}`;
}

const SERVICES_FILE = 'services.json';

export interface RunningServices {
  natsUrl: string;
  databaseUrl: string;
  /** The NATS server is the one `framewire start` runs, with its users' passwords in this data directory. */
  localNatsUsers?: boolean;
}

/**
 * `framewire start` writes where it found or started NATS and PostgreSQL into its data directory, so
 * other commands (`framewire keys ...`) reach the same ones without being told; the file goes away
 * when the system stops.
 */
export function recordServices(dataDir: string, services: RunningServices): void {
  writeFileSync(join(dataDir, SERVICES_FILE), `${JSON.stringify(services, null, 2)}\n`, { mode: 0o600 });
}

export function forgetServices(dataDir: string): void {
  rmSync(join(dataDir, SERVICES_FILE), { force: true });
}

export function runningServices(dataDir: string): RunningServices | null {
  const path = join(dataDir, SERVICES_FILE);
  if (!existsSync(path)) return null;
  try {
    const parsed = JSON.parse(readFileSync(path, 'utf8')) as Partial<RunningServices>;
    return typeof parsed.natsUrl === 'string' && typeof parsed.databaseUrl === 'string' ? (parsed as RunningServices) : null;
  } catch {
    return null;
  }
}

/** DATABASE_URL if set, else the database a running `framewire start` uses, else the local default. */
export function resolveDatabaseUrl(configured: string | undefined, dataDir: string, env: NodeJS.ProcessEnv = process.env): string {
  return configured ?? runningServices(dataDir)?.databaseUrl ?? defaultDatabaseUrl(env);
}

/** A NATS server and the user to connect as (none when the server has no users). */
export interface NatsTarget {
  url: string;
  user?: string | undefined;
  pass?: string | undefined;
}

/**
 * Where a command's own NATS connection goes, and as whom: NATS_URL if set, else the server a running
 * `framewire start` uses, else the local default; as NATS_USER (NATS_PASSWORD) if set, else, on the
 * server that `framewire start` runs itself, as its `admin` user, whose password it keeps in the data
 * directory.
 */
export function resolveNatsTarget(
  config: { NATS_USER?: string | undefined; NATS_PASSWORD?: string | undefined },
  configuredUrl: string | undefined,
  dataDir: string,
): NatsTarget {
  const running = runningServices(dataDir);
  const url = configuredUrl ?? running?.natsUrl ?? 'nats://127.0.0.1:4222';
  if (config.NATS_USER) return { url, user: config.NATS_USER, pass: config.NATS_PASSWORD };
  if (running?.localNatsUsers && running.natsUrl === url) {
    const admin = readLocalNatsPasswords(dataDir)?.admin;
    if (admin) return { url, user: 'admin', pass: admin };
  }
  return { url };
}


/** The data directory of `framewire start` when no --data-dir names one: FRAMEWIRE_DATA_DIR, else `.data`. */
export function defaultDataDir(env: NodeJS.ProcessEnv = process.env): string {
  return env['FRAMEWIRE_DATA_DIR'] || '.data';
}

/**
 * A data directory named on the command line (default defaultDataDir()), resolved against the project
 * root; installed without the sources (a container image) there is none, and the working directory is used.
 */
export function dataDirOf(dataDir = defaultDataDir()): string {
  let root = process.cwd();
  try {
    root = projectRoot();
  } catch {
    // keep the working directory
  }
  return resolve(root, dataDir);
}
