import { existsSync, mkdirSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join, resolve } from 'node:path';
import { cliEnvSchema, parseConfig } from '@app/config';
import { forgetServices, recordServices } from '../connection.js';
import { appEntry, projectRoot, type AppName } from '../project-root.js';
import { quickChecks } from '../doctor/doctor.js';
import { ensureFirstKey, keyBannerLine } from './first-admin-key.js';
import { waitForJobsService } from './jobs-ready.js';
import { canConnect, ensureDatabase, postgresDurability, startLocalPostgres, type LocalPostgres } from './local-postgres.js';
import { durabilityOf, startLocalNats, type LocalNats } from './local-nats.js';
import { ensureLocalNatsPasswords, LOCAL_NATS_USERS_FILE, localNatsAuthorization, type LocalNatsPasswords, type LocalNatsUser } from './local-nats-users.js';
import { natsServerBinary } from './nats-server-binary.js';
import { probeNats } from './nats-probe.js';
import { freePort } from './net-probe.js';
import { StartConsole } from './start-console.js';
import { Supervisor } from './supervisor.js';
import { waitUntilReady } from './readiness.js';
import { redact } from '../shared/redact.js';

export interface StartOptions {
  workers: number;
  port: number;
  dataDir: string;
  /** Start nats-server and an embedded PostgreSQL under dataDir even when others are reachable. */
  localServices: boolean;
}

const DEFAULT_NATS_URL = 'nats://127.0.0.1:4222';
/** A local server as this OS user (as psql would connect), where the start command creates its own database. */
const DEFAULT_POSTGRES_URL = `postgres://${encodeURIComponent(userInfo().username)}@127.0.0.1:5432/postgres`;

const terminal = new StartConsole();
const say = (line: string) => terminal.say(line);
/** How long the end of startup (every service ready) is waited for before the banner's second look. */
const READY_TIMEOUT_MS = 120_000;

/**
 * `framewire start`: the whole system on one machine. NATS and PostgreSQL are used where they are
 * reachable (NATS_URL, DATABASE_URL, or the default local ports) and, for NATS, new enough (2.12+,
 * with JetStream); otherwise a nats-server (from scripts/nats-server.sh: the cache, PATH, or fetched)
 * and an embedded PostgreSQL are started with their data under the data directory. Then the jobs
 * service, the gateway and the workers run as separate processes until SIGINT, SIGTERM or SIGHUP.
 */
export async function start(options: StartOptions): Promise<void> {
  const root = projectRoot();
  for (const app of ['gateway', 'jobs', 'worker'] as AppName[]) {
    if (!existsSync(appEntry(root, app))) throw new Error(`${app} is not built: run "npm run build" first`);
  }
  const dataDir = resolve(root, options.dataDir);
  let nats: LocalNats | null = null;
  let postgres: LocalPostgres | null = null;
  const supervisor = new Supervisor(say, (name, stream, line) => terminal.service(name, stream, line));
  const startedAt = Date.now();

  let shuttingDown = false;
  const shutdown = async (signal: string, exitCode = 0) => {
    if (shuttingDown) return;
    shuttingDown = true;
    say(`${signal}: stopping services`);
    await supervisor.stopAll();
    forgetServices(dataDir);
    if (nats) await nats.stop();
    if (postgres) await postgres.stop().catch(() => undefined);
    say('stopped');
    process.exit(exitCode);
  };
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  // The terminal closed: stop everything as for Ctrl-C, or the nats-server and PostgreSQL started
  // here would outlive it. Its output has nowhere to go any more: a write that fails is dropped.
  process.on('SIGHUP', () => {
    for (const stream of [process.stdout, process.stderr]) stream.on('error', () => undefined);
    void shutdown('SIGHUP');
  });

  try {
    await reportQuickChecks(options.port);
    const { url: natsUrl, passwords, description: natsDescription } = await resolveNats(root, dataDir, options.localServices, (started) => (nats = started));
    const databaseUrl = await resolvePostgres(dataDir, options.localServices, (started) => (postgres = started));
    const firstKey = await ensureFirstKey(databaseUrl, say);
    mkdirSync(dataDir, { recursive: true });
    recordServices(dataDir, { natsUrl, databaseUrl, ...(passwords ? { localNatsUsers: true } : {}) });
    const env = { ...process.env, NATS_URL: natsUrl, DATABASE_URL: databaseUrl, PORT: String(options.port) };
    // On the server started here, each service connects as its own user; elsewhere as NATS_USER, if set.
    const as = (user: LocalNatsUser) => (passwords ? { NATS_USER: user, NATS_PASSWORD: passwords[user] } : {});
    // Each process without an HTTP API of its own gets its own ops port (metrics, health).
    const opsPorts = await assignOpsPorts(['jobs', ...Array.from({ length: options.workers }, (_, i) => `worker-${i + 1}`)]);
    supervisor.start({ name: 'jobs', entry: appEntry(root, 'jobs'), env: { ...env, ...as('jobs'), OPS_PORT: String(opsPorts.get('jobs')) } });
    for (let i = 1; i <= options.workers; i++) {
      const name = `worker-${i}`;
      supervisor.start({ name, entry: appEntry(root, 'worker'), env: { ...env, ...as('worker'), OPS_PORT: String(opsPorts.get(name)) } });
    }
    const config = parseConfig(cliEnvSchema, process.env);
    await waitForJobsService(natsUrl, passwords ? { user: 'gateway', pass: passwords.gateway } : { user: config.NATS_USER, pass: config.NATS_PASSWORD });
    if (shuttingDown) return;
    supervisor.start({ name: 'gateway', entry: appEntry(root, 'gateway'), env: { ...env, ...as('gateway') } });
    const base = `http://127.0.0.1:${options.port}`;
    terminal.showBanner('Framewire', [
      `dashboard: ${base}/`,
      `API docs: ${base}/docs   (OpenAPI: ${base}/docs/openapi.json)`,
      keyBannerLine(firstKey),
      `gateway: ${base}  (${options.workers} worker(s); metrics with an admin key: ${base}/metrics)`,
      `NATS: ${natsDescription}`,
      `PostgreSQL: ${redact(databaseUrl)}, ${await postgresDurability(databaseUrl)}`,
      `ops (/metrics, /health/ready): ${[...opsPorts].map(([name, port]) => `${name} http://127.0.0.1:${port}`).join(', ')}`,
      'stop: Ctrl-C (the services drain first)',
    ]);
    const ready = await waitUntilReady([`${base}/health/ready`, ...[...opsPorts.values()].map((port) => `http://127.0.0.1:${port}/health/ready`)], READY_TIMEOUT_MS);
    if (shuttingDown) return;
    say(ready ? `ready in ${((Date.now() - startedAt) / 1000).toFixed(1)} s` : `not every service is ready after ${READY_TIMEOUT_MS / 1000} s: see the log above`);
    terminal.repeatBannerIfScrolledAway();
  } catch (error) {
    say(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
    await shutdown('error', 1);
  }
}

/**
 * The quick part of `framewire doctor` (this machine: Node, ffmpeg, ffprobe, the gateway's port):
 * each problem in a line with what to do about it. It stops nothing: NATS and PostgreSQL are chosen
 * (or started) below, and a system without ffmpeg still takes jobs that its workers then fail.
 */
async function reportQuickChecks(port: number): Promise<void> {
  const checks = await quickChecks({ port });
  const problems = checks.filter((check) => check.verdict === 'fail' || check.verdict === 'warn');
  if (problems.length === 0) return say(`checked ${checks.map((check) => check.name).join(', ')}: ok`);
  for (const check of problems) say(`${check.verdict === 'fail' ? 'PROBLEM' : 'warning'}: ${check.name}: ${check.detail}${check.fix ? `; to fix: ${check.fix}` : ''}`);
  say('(framewire doctor checks NATS, PostgreSQL and the stream too)');
}

/**
 * The NATS to use: NATS_URL or the default address if a nats-server 2.12+ with JetStream answers
 * there. A NATS_URL given explicitly that is unusable (down, too old, no JetStream) stops the start
 * with one line; at the default address, that one line is followed by a nats-server started here,
 * with a user per service (the permissions of deploy/nats) whose passwords are returned too.
 * `description` is what the banner says of it: address, version and durability.
 */
async function resolveNats(
  root: string,
  dataDir: string,
  local: boolean,
  started: (nats: LocalNats) => void,
): Promise<{ url: string; passwords: LocalNatsPasswords | null; description: string }> {
  const config = parseConfig(cliEnvSchema, process.env);
  const configured = local ? undefined : process.env['NATS_URL'];
  if (!local) {
    const url = configured || DEFAULT_NATS_URL;
    const probe = await probeNats(url, { user: config.NATS_USER, pass: config.NATS_PASSWORD });
    if (probe.usable) {
      // A client cannot read a server's sync_interval: only its operator knows whether it fsyncs each ack.
      const durability = 'durability as that server is configured (sync_interval: always loses nothing acknowledged in a machine crash)';
      say(`using NATS at ${url}: nats-server ${probe.version}; ${durability}`);
      return { url, passwords: null, description: `${url}, nats-server ${probe.version}, ${durability}` };
    }
    if (configured) throw new Error(`${probe.problem}: fix NATS_URL (see docs/operations.md), or unset it and start runs a nats-server of its own`);
    say(`${probe.problem}: starting a nats-server of its own`);
  } else {
    say('starting a nats-server of its own (--local-services)');
  }
  const binary = await natsServerBinary(root, { log: say });
  mkdirSync(dataDir, { recursive: true });
  const passwords = ensureLocalNatsPasswords(dataDir);
  const nats = await startLocalNats(dataDir, say, localNatsAuthorization(config.FRAMEWIRE_NAMESPACE, passwords), { binary, syncInterval: config.NATS_SYNC_INTERVAL });
  started(nats);
  say(`started nats-server ${nats.version} at ${nats.url}; binary ${binary}, store ${join(dataDir, 'nats')}; durability: ${nats.durability}`);
  say(`NATS users: gateway, jobs, worker and admin (for framewire commands), each with its own password in ${join(dataDir, LOCAL_NATS_USERS_FILE)}`);
  return { url: nats.url, passwords, description: `${nats.url}, nats-server ${nats.version} started here, ${durabilityOf(config.NATS_SYNC_INTERVAL).replace(/ \(.*$/, '')}` };
}

async function resolvePostgres(dataDir: string, local: boolean, started: (pg: LocalPostgres) => void): Promise<string> {
  const configured = local ? undefined : process.env['DATABASE_URL'];
  if (configured) {
    if (!(await canConnect(configured))) throw new Error(`DATABASE_URL=${redact(configured)} is not reachable`);
    say(`using PostgreSQL at ${redact(configured)}`);
    return configured;
  }
  if (!local && (await canConnect(DEFAULT_POSTGRES_URL))) {
    const url = await ensureDatabase(DEFAULT_POSTGRES_URL);
    say(`using PostgreSQL at ${redact(url)}`);
    return url;
  }
  say(local ? 'starting an embedded PostgreSQL (--local-services)' : 'no PostgreSQL on 127.0.0.1:5432; starting an embedded one');
  const pg = await startLocalPostgres(dataDir, say);
  started(pg);
  say(`embedded PostgreSQL at ${redact(pg.url)} with its data in ${join(dataDir, 'pg')}`);
  return pg.url;
}

/** Free ports from 9464 up (Prometheus exporters' customary range), one per process, never the same twice. */
async function assignOpsPorts(names: string[]): Promise<Map<string, number>> {
  const ports = new Map<string, number>();
  const taken = new Set<number>();
  let preferred = 9464;
  for (const name of names) {
    let port = await freePort(preferred);
    while (taken.has(port)) port = await freePort();
    taken.add(port);
    ports.set(name, port);
    preferred = Math.max(preferred, port) + 1;
  }
  return ports;
}
