import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { IsNull, Not } from 'typeorm';
import { jobSubjects } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { checkNatsServer, isStreamNotFound, isSupportedNatsServer, NATS_SERVER_UPGRADE_HINT, natsClientOptions, UnsupportedNatsServerError } from '@app/nats';
import { createReadModelDataSource, JobReadRepository, JobRow, PROJECTION_NAME, ProjectionRegistry, READ_MODEL_MIGRATIONS } from '@app/read-model';
import type { NatsTarget } from '../connection.js';
import { message } from '../shared/cli-context.js';
import { redact } from '../shared/redact.js';
import { deadLettersVerdict, diskVerdict, goDuration, migrationsVerdict, parkedVerdict, projectorVerdict, syncVerdict, type Check } from './verdicts.js';

/**
 * Where a service was looked for: named by the environment (NATS_URL, DATABASE_URL) or by a running
 * `framewire start`, or only the default address. Missing at the default address is a warning, not a
 * failure: `framewire start` then starts its own.
 */
export interface Located<T> {
  target: T;
  chosen: boolean;
}

const START_STARTS_ITS_OWN = 'framewire start would start a nats-server of its own';

/** The NATS checks (reachable and new enough, JetStream, sync, disk) and, when it is usable, the connection. */
export async function checkNats(
  nats: Located<NatsTarget>,
  sync: { monitorUrl?: string | undefined; localConfig?: string | undefined },
): Promise<{ checks: Check[]; nc: NatsConnection | null }> {
  const { url } = nats.target;
  const unusable = (detail: string, fix: string): { checks: Check[]; nc: null } => ({
    checks: [nats.chosen ? { name: 'nats', verdict: 'fail', detail, fix } : { name: 'nats', verdict: 'warn', detail: `${detail}; ${START_STARTS_ITS_OWN}`, fix }],
    nc: null,
  });
  let nc: NatsConnection;
  try {
    nc = await connect({ ...natsClientOptions(url, nats.target), name: 'framewire-doctor', reconnect: false, timeout: 3000 });
  } catch (error) {
    return unusable(`not reachable at ${url} (${message(error)})`, 'start nats-server 2.12 or newer with JetStream (-js) there, or point NATS_URL at one (docs/operations.md)');
  }
  const version = nc.info?.version ?? 'unknown';
  if (!isSupportedNatsServer(version)) {
    await nc.close().catch(() => undefined);
    return unusable(`nats-server ${version} at ${url} is too old`, NATS_SERVER_UPGRADE_HINT);
  }
  const checks: Check[] = [{ name: 'nats', verdict: 'ok', detail: `nats-server ${version} at ${url}` }];
  try {
    await checkNatsServer(nc, { settleMs: 3000 });
    checks.push({ name: 'jetstream', verdict: 'ok', detail: 'enabled' });
  } catch (error) {
    if (!(error instanceof UnsupportedNatsServerError)) throw error;
    checks.push({ name: 'jetstream', verdict: 'fail', detail: error.message, fix: 'start nats-server with -js, or a jetstream {} block in its config' });
    await nc.close().catch(() => undefined);
    return { checks, nc: null };
  }
  const store = await storeSettings(sync);
  checks.push(syncVerdict(store.sync));
  if (store.dir && existsSync(store.dir)) {
    const fs = statfsSync(store.dir);
    checks.push(diskVerdict(store.dir, fs.bavail * fs.bsize));
  } else {
    checks.push({ name: 'nats disk', verdict: 'skip', detail: store.dir ? `the store ${store.dir} is not on this machine` : 'unknown: the store directory is known from NATS_MONITOR_URL or a framewire start data directory' });
  }
  return { checks, nc };
}

/**
 * The server's sync_interval and store directory, if they can be known: from its monitoring port's
 * /varz (NATS_MONITOR_URL), else from the config `framewire start` wrote for the server it runs.
 */
async function storeSettings(from: { monitorUrl?: string | undefined; localConfig?: string | undefined }): Promise<{ sync: { value: string; source: string } | null; dir: string | null }> {
  if (from.monitorUrl) {
    try {
      const varz = (await (await fetch(new URL('/varz', from.monitorUrl), { signal: AbortSignal.timeout(3000) })).json()) as {
        jetstream?: { config?: { store_dir?: string; sync_interval?: number; sync_always?: boolean } };
      };
      const config = varz.jetstream?.config ?? {};
      const value = config.sync_always ? 'always' : typeof config.sync_interval === 'number' ? goDuration(config.sync_interval) : null;
      return { sync: value ? { value, source: 'from /varz' } : null, dir: config.store_dir ?? null };
    } catch {
      return { sync: null, dir: null };
    }
  }
  if (from.localConfig && existsSync(from.localConfig)) {
    const text = readFileSync(from.localConfig, 'utf8');
    const sync = /^\s*sync_interval:\s*"?([^"\s]+)"?\s*$/m.exec(text)?.[1];
    const dir = /^\s*store_dir:\s*"([^"]+)"\s*$/m.exec(text)?.[1];
    return { sync: sync ? { value: sync, source: `from ${from.localConfig}` } : null, dir: dir ?? null };
  }
  return { sync: null, dir: null };
}

/** The PostgreSQL checks: reachable and its version, the read model's migrations, and the projector's figures. */
export async function checkPostgres(
  postgres: Located<string>,
  home: string,
): Promise<{ checks: Check[]; figures: { checkpoint: number; parked: number; deadLetters: number } | null }> {
  const url = postgres.target;
  const ds = createReadModelDataSource({ url, schema: home, poolSize: 1 });
  try {
    await ds.initialize();
  } catch (error) {
    // The server answers, and the database is the one framewire start creates on it.
    if ((error as { code?: unknown }).code === '3D000' && !postgres.chosen) {
      return { checks: [{ name: 'postgres', verdict: 'ok', detail: `${redact(url)}: the server answers; framewire start creates the database` }], figures: null };
    }
    const detail = `not reachable at ${redact(url)} (${message(error)})`;
    const fix = 'start PostgreSQL there, or point DATABASE_URL at one (docs/operations.md)';
    return {
      checks: [postgres.chosen ? { name: 'postgres', verdict: 'fail', detail, fix } : { name: 'postgres', verdict: 'warn', detail: `${detail}; framewire start runs an embedded PostgreSQL then`, fix }],
      figures: null,
    };
  }
  try {
    const version = String(((await ds.query('SHOW server_version')) as Array<{ server_version: string }>)[0]?.server_version ?? 'unknown');
    const checks: Check[] = [{ name: 'postgres', verdict: 'ok', detail: `PostgreSQL ${version} at ${redact(url)}` }];
    const active = await new ProjectionRegistry(ds, home, url).active().catch(() => null);
    const applied = active ? ((await ds.query(`SELECT name FROM "${active.schema}".migrations`)) as Array<{ name: string }>).map((row) => row.name) : [];
    checks.push(migrationsVerdict(active?.schema ?? null, applied, READ_MODEL_MIGRATIONS.map((migration) => migration.name)));
    if (!active) return { checks, figures: null };
    const repository = new JobReadRepository(ds);
    const [state, parked, deadLetters] = await Promise.all([
      repository.checkpointState(PROJECTION_NAME),
      repository.parkedEvents(0),
      ds.getRepository(JobRow).count({ where: { deadLetter: Not(IsNull()), deletedAt: IsNull() } }),
    ]);
    return { checks, figures: { checkpoint: state.lastSeq, parked: parked.count, deadLetters } };
  } finally {
    await ds.destroy().catch(() => undefined);
  }
}

/** The event stream and the projector reading it: lag, parked events, dead letters (as GET /v1/system counts them). */
export async function checkStream(nc: NatsConnection | null, namespace: string, read: { checkpoint: number; parked: number; deadLetters: number } | null): Promise<Check[]> {
  if (!nc) return [{ name: 'stream', verdict: 'skip', detail: 'no usable NATS' }];
  const subjects = jobSubjects(namespace);
  try {
    const figures = await new EventStore(nc, subjects).figures();
    const backlog = figures.consumers.filter((c) => c.pending + c.ack_pending > 0).map((c) => `${c.name} ${c.pending} pending, ${c.ack_pending} in progress`);
    return [
      { name: 'stream', verdict: 'ok', detail: `${figures.stream.name}: ${figures.stream.messages} messages, ${figures.consumers.length} consumers${backlog.length ? ` (${backlog.join('; ')})` : ', none behind'}` },
      projectorVerdict({ stream: figures.stream.name, messages: figures.stream.messages, lastSeq: figures.stream.last_seq, checkpoint: read?.checkpoint ?? null }),
      parkedVerdict(read?.parked ?? null),
      deadLettersVerdict(read?.deadLetters ?? null),
    ];
  } catch (error) {
    if (isStreamNotFound(error)) return [{ name: 'stream', verdict: 'ok', detail: `no stream ${subjects.streamName} yet: the services create it at their first start (namespace "${namespace}")` }];
    return [{ name: 'stream', verdict: 'fail', detail: `cannot read ${subjects.streamName}: ${message(error)}`, fix: 'see the nats-server log; NATS_USER may lack the permission to read the stream' }];
  }
}

/** The config file of the nats-server `framewire start` runs under `dataDir`. */
export function localNatsConfig(dataDir: string): string {
  return join(dataDir, 'nats-server.conf');
}
