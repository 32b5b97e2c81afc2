/**
 * `npm run bench [-- --quick] [-- --out DIR] [-- --docs] [-- ids...]`
 *
 * Builds the apps if they are stale, starts a durable nats-server of its own (unless BENCH_NATS_URL
 * names one), then runs every bench/<id>-<name>.bench.ts in one process, the raw limits first, each
 * with a bounded count and time against loopback services only. Writes
 * <out>/<timestamp>.json, .md (the table) and .svg (latency distributions), prints the table, and
 * with --docs puts the table into docs/performance.md between its bench markers (--readme, its
 * name from when the table was in the README, does the same). Exits non-zero if a benchmark failed
 * (a missed goal is a result, not a failure).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { connect } from '@nats-io/transport-node';
import pg from 'pg';
import { durableServerBinary, serverVersion, startOwnNats, type OwnNats, type SyncSetting } from './lib/nats-server.js';
import { latencyChart, markdownTable, problemsOf, TABLE_PAGE, withBenchTable, type RunEntry, type RunReport } from './lib/report.js';
import type { BenchContext, BenchNats, Benchmark, BenchResult } from './lib/types.js';

const root = new URL('..', import.meta.url).pathname;
const benchDir = join(root, 'bench');
const DEFAULT_TIMEOUT_MS = 5 * 60_000;
/**
 * A quick run's budget per benchmark: a guard against a hang, not a speed goal. Alone, each quick
 * benchmark takes seconds; inside `npm test` it shares two cores with the chaos run and other e2e
 * tests, where P6 (ffmpeg in a worker started for it) once needed more than 90 s.
 */
const QUICK_TIMEOUT_MS = 180_000;
const ABORT_GRACE_MS = 15_000;

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    quick: { type: 'boolean', default: false },
    out: { type: 'string', default: join(benchDir, 'results') },
    docs: { type: 'boolean', default: false },
    /** The old name of --docs. */
    readme: { type: 'boolean', default: false },
    'no-build': { type: 'boolean', default: false },
  },
});

/**
 * NATS: BENCH_NATS_URL if set (its sync setting unknown to the bench); else a nats-server of the
 * bench's own from `scripts/nats-server.sh` (2.12 or newer) on a free port, its store in a temp dir,
 * with `sync_interval: always`, or its default sync with BENCH_NATS_SYNC=default.
 */
const givenNatsUrl = process.env['BENCH_NATS_URL'];
const syncSetting = (process.env['BENCH_NATS_SYNC'] ?? 'always') as SyncSetting;
if (syncSetting !== 'always' && syncSetting !== 'default') throw new Error(`BENCH_NATS_SYNC must be always or default, not ${String(syncSetting)}`);
/**
 * The comparison server (rows "for comparison only"): BENCH_COMPARE_NATS_SERVER, a nats-server binary
 * run with its default sync, or `none` (the default). It must be 2.12 or newer: Framewire's services
 * refuse an older server, and the raw job shape's job-wide expected sequence needs 2.11+ (2.9.10
 * checks it against the message's own subject and refuses the first lifecycle append). The 2.9.10
 * figures kept in docs/performance.md were measured before that, for comparison only.
 */
const databaseUrl = process.env['BENCH_DATABASE_URL'] ?? process.env['TEST_DATABASE_URL'] ?? 'postgres://root@127.0.0.1:5432/test';
for (const url of [givenNatsUrl ?? 'nats://127.0.0.1', databaseUrl]) {
  const host = new URL(url).hostname.replace(/^\[|\]$/g, '');
  if (!/^(127\.\d+\.\d+\.\d+|localhost|::1)$/.test(host)) {
    throw new Error(`benchmarks run on loopback only, but ${url} is not a loopback address`);
  }
}

const log = (message: string) => process.stderr.write(`[bench] ${message}\n`);

/** `raw` first (the physical limits every other figure is compared with), then p1, p2 ... in order. */
export function benchOrder(a: string, b: string): number {
  const key = (id: string) => (id === 'raw' ? -1 : Number(/^p(\d+)$/.exec(id)?.[1] ?? 1e6));
  return key(a) - key(b) || a.localeCompare(b);
}

async function discover(): Promise<{ id: string; file: string }[]> {
  const files = (await readdir(benchDir)).filter((f) => f.endsWith('.bench.ts'));
  return files.map((file) => ({ id: file.split('-')[0]!, file })).sort((a, b) => benchOrder(a.id, b.id) || a.file.localeCompare(b.file));
}

function isBenchmark(value: unknown): value is Benchmark {
  const b = value as Benchmark | undefined;
  return !!b && typeof b.id === 'string' && typeof b.title === 'string' && typeof b.run === 'function';
}

/** The servers of a run: the one every benchmark uses, and the comparison one if any. */
interface Servers {
  nats: BenchNats;
  comparison?: BenchNats;
  own: OwnNats[];
}

async function startServers(): Promise<Servers> {
  const own: OwnNats[] = [];
  try {
    let nats: BenchNats;
    if (givenNatsUrl) {
      nats = { url: givenNatsUrl, version: await answeringVersion(givenNatsUrl), sync: 'sync setting unknown (BENCH_NATS_URL)', countFsyncs: async () => null };
    } else {
      const binary = await durableServerBinary(root);
      const server = await startOwnNats(binary, syncSetting);
      own.push(server);
      nats = server;
      log(`nats-server ${server.version} with ${server.sync} on ${server.url} (${binary})`);
    }
    let comparison: BenchNats | undefined;
    const compareWith = process.env['BENCH_COMPARE_NATS_SERVER'] ?? 'none';
    if (compareWith !== 'none') {
      const version = await serverVersion(compareWith).catch(() => null);
      if (version === null) {
        log(`no comparison server: ${compareWith} does not run (BENCH_COMPARE_NATS_SERVER=none skips this)`);
      } else {
        const server = await startOwnNats(compareWith, 'default');
        own.push(server);
        comparison = server;
        log(`for comparison: nats-server ${version} with ${server.sync} on ${server.url} (${compareWith})`);
      }
    }
    return { nats, ...(comparison ? { comparison } : {}), own };
  } catch (error) {
    await Promise.all(own.map((server) => server.stop()));
    throw error;
  }
}

async function answeringVersion(url: string): Promise<string> {
  try {
    const nc = await connect({ servers: url, timeout: 3000 });
    const version = nc.info?.version ?? 'unknown';
    await nc.close();
    return version;
  } catch (error) {
    throw new Error(`NATS at ${url} does not answer: ${String(error)}`);
  }
}

async function machine(servers: Servers): Promise<Record<string, unknown>> {
  const version = (cmd: string, args: string[]) => {
    try {
      return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim().split('\n')[0]!;
    } catch {
      return 'not found';
    }
  };
  const client = new pg.Client({ connectionString: databaseUrl });
  await client.connect();
  const setting = async (name: string) => String((await client.query(`SHOW ${name}`)).rows[0]?.[name] ?? 'unknown');
  const postgres = await setting('server_version');
  const postgresDurability = `synchronous_commit=${await setting('synchronous_commit')}, fsync=${await setting('fsync')}`;
  await client.end();
  return {
    cpus: cpus().length,
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    node: process.version,
    natsServer: servers.nats.version,
    natsSync: servers.nats.sync,
    natsStartedByBench: !givenNatsUrl,
    ...(servers.comparison ? { comparisonNats: `${servers.comparison.version}, ${servers.comparison.sync}` } : {}),
    postgres: `PostgreSQL ${postgres}`,
    postgresDurability,
    redisServer: version(process.env['REDIS_SERVER'] ?? 'redis-server', ['--version']).replace(/ sha=.*$/, ''),
    ffmpeg: version('ffmpeg', ['-version']).replace(/ Copyright.*$/, ''),
    loadBefore: loadavg().map((l) => l.toFixed(2)).join(' '),
  };
}

function gitState(): RunReport['git'] {
  try {
    const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: root, encoding: 'utf8' }).trim();
    const dirty = execFileSync('git', ['status', '--porcelain', '--', 'apps', 'libs', 'bench', 'package.json'], { cwd: root, encoding: 'utf8' }).trim() !== '';
    return { commit, dirty };
  } catch {
    return null;
  }
}

async function runOne(benchmark: Benchmark, file: string, results: RunEntry[], servers: Servers): Promise<RunEntry> {
  const workDir = await mkdtemp(join(tmpdir(), `framewire-bench-${benchmark.id}-`));
  const controller = new AbortController();
  const budget = values.quick ? Math.min(QUICK_TIMEOUT_MS, benchmark.timeoutMs ?? QUICK_TIMEOUT_MS) : (benchmark.timeoutMs ?? DEFAULT_TIMEOUT_MS);
  const ctx: BenchContext = {
    natsUrl: servers.nats.url,
    nats: servers.nats,
    ...(servers.comparison ? { comparisonNats: servers.comparison } : {}),
    databaseUrl,
    workDir,
    repoRoot: root,
    quick: values.quick,
    log: (message) => log(`${benchmark.id}: ${message}`),
    signal: controller.signal,
    earlier: (id) => results.find((r) => r.id === id && !r.error),
  };
  const started = performance.now();
  let timer: NodeJS.Timeout | undefined;
  try {
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        controller.abort();
        timer = setTimeout(() => reject(new Error(`did not finish within its budget of ${budget / 1000} s`)), ABORT_GRACE_MS);
      }, budget);
    });
    const result: BenchResult = await Promise.race([benchmark.run(ctx), expired]);
    return { ...result, id: result.id ?? benchmark.id, durationMs: Math.round(performance.now() - started) };
  } catch (error) {
    const message = error instanceof Error ? (error.stack ?? error.message) : String(error);
    log(`${benchmark.id} (${file}) failed: ${message}`);
    return { id: benchmark.id, title: benchmark.title, measurements: [], durationMs: Math.round(performance.now() - started), error: message };
  } finally {
    clearTimeout(timer);
    await rm(workDir, { recursive: true, force: true });
  }
}

async function main(): Promise<number> {
  const startedAt = new Date();
  if (!values['no-build']) {
    log('building the apps (if stale)');
    const build = spawnSync(process.execPath, [join(root, 'scripts', 'build.mjs'), '--if-stale'], { cwd: root, stdio: ['ignore', 2, 2] });
    if (build.status !== 0) throw new Error('the build failed');
  }
  const servers = await startServers();
  try {
    return await runAll(startedAt, servers);
  } finally {
    await Promise.all(servers.own.map((server) => server.stop()));
  }
}

async function runAll(startedAt: Date, servers: Servers): Promise<number> {
  const info = await machine(servers);
  const wanted = new Set(positionals);
  const found = await discover();
  const selected = found.filter(({ id }) => wanted.size === 0 || wanted.has(id) || id === 'raw');
  const unknown = [...wanted].filter((id) => !found.some((f) => f.id === id));
  if (unknown.length) throw new Error(`no benchmark ${unknown.join(', ')}; found ${found.map((f) => f.id).join(', ')}`);

  const results: RunEntry[] = [];
  for (const { id, file } of selected) {
    let benchmark: unknown;
    try {
      benchmark = ((await import(join(benchDir, file))) as { default?: unknown }).default;
    } catch (error) {
      results.push({ id, title: file, measurements: [], durationMs: 0, error: `could not load ${file}: ${String(error)}` });
      continue;
    }
    if (!isBenchmark(benchmark)) {
      results.push({ id, title: file, measurements: [], durationMs: 0, error: `${file} does not default-export a Benchmark` });
      continue;
    }
    log(`${benchmark.id}: ${benchmark.title}${values.quick ? ' (quick)' : ''}`);
    const entry = await runOne(benchmark, file, results, servers);
    log(`${benchmark.id}: done in ${(entry.durationMs / 1000).toFixed(1)} s${entry.error ? ' (FAILED)' : ''}`);
    results.push(entry);
  }

  const report: RunReport = {
    schema: 1,
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    quick: values.quick,
    machine: { ...info, loadAfter: loadavg().map((l) => l.toFixed(2)).join(' ') },
    git: gitState(),
    benchmarks: results,
  };
  const stamp = report.startedAt.replace(/[:]/g, '-').replace(/\.\d+Z$/, 'Z');
  await mkdir(values.out!, { recursive: true });
  const table = markdownTable(report);
  const base = join(values.out!, `${stamp}${values.quick ? '-quick' : ''}`);
  await writeFile(`${base}.json`, JSON.stringify(report, null, 2) + '\n');
  await writeFile(`${base}.md`, table);
  await writeFile(`${base}.svg`, latencyChart(report));
  process.stdout.write(table);
  log(`wrote ${base}.json, .md and .svg`);
  if (values.docs || values.readme) await publishTable(table, base);
  const problems = problemsOf(report);
  for (const problem of problems) log(`problem: ${problem.split('\n')[0]}`);
  return results.some((r) => r.error) ? 1 : 0;
}

async function publishTable(table: string, base: string): Promise<void> {
  const page = join(root, TABLE_PAGE);
  await writeFile(page, withBenchTable(await readFile(page, 'utf8'), table, { root, page: TABLE_PAGE, base }));
  const run = base.startsWith(root) ? base.slice(root.length) : base;
  log(`updated the table in ${TABLE_PAGE}: commit it with ${run}.json and ${run}.svg`);
}

main().then(
  (code) => process.exit(code),
  (error: unknown) => {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    process.exit(1);
  },
);
