import { existsSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freeTcpPort, spawnCli, spawnService, type ServiceProcess } from '../support/processes.js';
import { scratchDir, startNatsServer, type NatsServer } from '../support/servers.js';
import { freshName, freshSchema, TEST_NATS_URL, type TestSchema } from '../support/services.js';

/** Debian 12's nats-server 2.9.10, older than Framewire supports. */
const OLD_NATS_SERVER = '/usr/sbin/nats-server';

interface Report {
  ok: boolean;
  checks: Array<{ name: string; verdict: 'ok' | 'warn' | 'fail' | 'skip'; detail: string; fix?: string }>;
}

/** Runs `framewire doctor` with `env` (and nothing of this process's NATS_URL or DATABASE_URL); its exit code, report and text. */
async function doctor(env: Record<string, string>, args: string[] = []): Promise<{ code: number | string; report: Report; text: string }> {
  const dataDir = ['--data-dir', join(scratch.dir, 'data'), '--port', String(await freeTcpPort())];
  const json = spawnCli('framewire doctor --json', ['doctor', '--json', ...dataDir, ...args], env);
  const code = await json.exited();
  const text = spawnCli('framewire doctor', ['doctor', ...dataDir, ...args], env);
  expect(await text.exited()).toBe(code);
  return { code, report: JSON.parse(json.output().trim().split('\n').at(-1)!) as Report, text: text.output() };
}

const verdicts = (report: Report) => Object.fromEntries(report.checks.map((check) => [check.name, check.verdict]));

let scratch: Awaited<ReturnType<typeof scratchDir>>;
let db: TestSchema;
let namespace: string;
let closedPort: number;

beforeAll(async () => {
  scratch = await scratchDir('framewire-doctor-');
  db = await freshSchema();
  namespace = freshName('doc');
  closedPort = await freeTcpPort();
});
afterAll(async () => {
  await db?.drop();
  await scratch?.cleanup();
});

/**
 * `framewire doctor` on a machine that works, then on machines broken one way each: it names what is
 * wrong in its table, says what to do, and exits 1; on the healthy one it exits 0.
 */
describe('framewire doctor', () => {
  let jobs: ServiceProcess | null = null;
  const healthy = () => ({ NATS_URL: TEST_NATS_URL, DATABASE_URL: db.url, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: namespace });

  afterAll(async () => {
    await jobs?.stop('SIGTERM');
  });

  it('passes a healthy machine: the test nats-server and PostgreSQL, with the stream and read model the jobs service made', async () => {
    jobs = spawnService('jobs', 'jobs', { ...healthy(), LOG_LEVEL: 'info' });
    await jobs.waitForLine(/"msg":"jobs service ready"/, 60_000);
    const { code, report, text } = await doctor(healthy());
    expect([code, report.checks.filter((c) => c.verdict === 'fail')]).toEqual([0, []]);
    expect(report.ok).toBe(true);
    expect(verdicts(report)).toMatchObject({ node: 'ok', ffmpeg: 'ok', ffprobe: 'ok', ports: 'ok', nats: 'ok', jetstream: 'ok', postgres: 'ok', migrations: 'ok', stream: 'ok' });
    expect(report.checks.find((c) => c.name === 'ffmpeg')!.detail).toMatch(/libx264, aac, mjpeg; mp4, hls, image2 muxers/);
    expect(report.checks.find((c) => c.name === 'migrations')!.detail).toMatch(/^\d+ applied in .*, none pending$/);
    expect(report.checks.find((c) => c.name === 'stream')!.detail).toMatch(new RegExp(`^${namespace.toUpperCase()}_EVENTS: \\d+ messages, \\d+ consumers`));
    expect(verdicts(report)).toMatchObject({ projector: 'ok', 'parked events': 'ok', 'dead letters': 'ok' });
    // A table with a verdict each, and a summary.
    expect(text).toMatch(/^CHECK +VERDICT +FOUND$/m);
    expect(text).toMatch(/^ffmpeg +ok +ffmpeg \S+: libx264/m);
    expect(text).toMatch(/^all is well/m);
  }, 120_000);

  it('fails a machine without ffmpeg: not on PATH, or FFMPEG_PATH pointing nowhere', async () => {
    const noPath = await doctor({ ...healthy(), PATH: join(scratch.dir, 'empty-bin') });
    expect(noPath.code).toBe(1);
    expect(verdicts(noPath.report)).toMatchObject({ ffmpeg: 'fail', ffprobe: 'fail', nats: 'ok', postgres: 'ok' });
    expect(noPath.report.checks.find((c) => c.name === 'ffmpeg')).toMatchObject({ detail: 'not usable at FFMPEG_PATH=ffmpeg: not found', fix: expect.stringMatching(/install ffmpeg/) });

    const nowhere = await doctor({ ...healthy(), FFMPEG_PATH: '/nonexistent/ffmpeg' });
    expect(nowhere.code).toBe(1);
    expect(verdicts(nowhere.report)).toMatchObject({ ffmpeg: 'fail', ffprobe: 'ok' });
    expect(nowhere.text).toMatch(/^ffmpeg +FAIL +not usable at FFMPEG_PATH=\/nonexistent\/ffmpeg: not found$/m);
    expect(nowhere.text).toMatch(/^What to do:\n {2}ffmpeg: install ffmpeg/m);
    expect(nowhere.text).toMatch(/^1 check failed/m);
  }, 60_000);

  it('fails when the NATS it is told to use is down', async () => {
    const { code, report, text } = await doctor({ ...healthy(), NATS_URL: `nats://127.0.0.1:${closedPort}` });
    expect(code).toBe(1);
    expect(verdicts(report)).toMatchObject({ nats: 'fail', postgres: 'ok', stream: 'skip' });
    expect(report.checks.find((c) => c.name === 'nats')!.detail).toMatch(new RegExp(`^not reachable at nats://127\\.0\\.0\\.1:${closedPort} `));
    expect(text).toMatch(/ {2}nats: start nats-server 2\.12 or newer with JetStream/);
  }, 60_000);

  it('fails when the PostgreSQL it is told to use is down', async () => {
    const { code, report } = await doctor({ ...healthy(), DATABASE_URL: `postgres://root@127.0.0.1:${closedPort}/test` });
    expect(code).toBe(1);
    expect(verdicts(report)).toMatchObject({ nats: 'ok', postgres: 'fail', projector: 'skip', 'parked events': 'skip' });
    expect(report.checks.find((c) => c.name === 'postgres')).toMatchObject({
      detail: expect.stringMatching(new RegExp(`^not reachable at postgres://root@127\\.0\\.0\\.1:${closedPort}/test `)),
      fix: expect.stringMatching(/DATABASE_URL/),
    });
  }, 60_000);

  it("reads the server's sync_interval and its store's free space from /varz at NATS_MONITOR_URL", async () => {
    const [port, monitor] = [await freeTcpPort(), await freeTcpPort()];
    const file = join(scratch.dir, 'monitored.conf');
    await writeFile(file, `listen: 127.0.0.1:${port}\nhttp: 127.0.0.1:${monitor}\njetstream {\n  store_dir: ${JSON.stringify(join(scratch.dir, 'monitored'))}\n  sync_interval: always\n}\n`);
    const server = await startNatsServer({ storeDir: join(scratch.dir, 'monitored'), port, config: { file } });
    try {
      const { report } = await doctor({ ...healthy(), NATS_URL: server.url, NATS_MONITOR_URL: `http://127.0.0.1:${monitor}` });
      expect(report.checks.find((c) => c.name === 'nats sync')).toEqual({ name: 'nats sync', verdict: 'ok', detail: 'sync_interval: always (from /varz): each write is on disk before its ack' });
      expect(report.checks.find((c) => c.name === 'nats disk')).toMatchObject({ verdict: 'ok', detail: expect.stringMatching(new RegExp(`^[\\d.]+ GiB free under ${join(scratch.dir, 'monitored')}/jetstream$`)) });
      // Without the monitoring port, a client cannot know.
      const { report: blind } = await doctor({ ...healthy(), NATS_URL: server.url });
      expect(blind.checks.find((c) => c.name === 'nats sync')).toMatchObject({ verdict: 'skip', detail: expect.stringMatching(/^unknown/) });
    } finally {
      await server.stop();
    }
  }, 60_000);

  describe('with a nats-server 2.9', () => {
    let old: NatsServer;
    beforeAll(async () => {
      if (!existsSync(OLD_NATS_SERVER)) throw new Error(`${OLD_NATS_SERVER} (Debian 12's nats-server 2.9) is needed for this test`);
      old = await startNatsServer({ storeDir: join(scratch.dir, 'old-nats'), binary: OLD_NATS_SERVER, syncInterval: null });
    });
    afterAll(async () => {
      await old?.stop();
    });

    it('fails it as too old, saying how to get a newer one', async () => {
      const { code, report } = await doctor({ ...healthy(), NATS_URL: old.url });
      expect(code).toBe(1);
      expect(report.checks.find((c) => c.name === 'nats')).toEqual({
        name: 'nats',
        verdict: 'fail',
        detail: `nats-server 2.9.10 at ${old.url} is too old`,
        fix: expect.stringMatching(/nats-server 2\.12 or newer: `bash scripts\/nats-server\.sh`/),
      });
    }, 60_000);
  });
});

/** What `framewire start` writes: JSON when its stdout is not a terminal, readable lines with LOG_FORMAT=pretty. */
describe('framewire start output', () => {
  const schemas: TestSchema[] = [];
  afterAll(async () => {
    for (const schema of schemas) await schema.drop();
  });

  /** A whole system on the test NATS and PostgreSQL, under fresh names; resolves once startup has ended. */
  const startSystem = async (env: Record<string, string>): Promise<ServiceProcess> => {
    const own = await freshSchema();
    schemas.push(own);
    const cli = spawnCli('framewire start', ['start', '--data-dir', join(scratch.dir, `start-${own.schema}`), '--port', String(await freeTcpPort())], {
      NATS_URL: TEST_NATS_URL,
      DATABASE_URL: own.url,
      DATABASE_SCHEMA: own.schema,
      FRAMEWIRE_NAMESPACE: freshName('out'),
      LOG_LEVEL: 'info',
      ...env,
    });
    await cli.waitForLine(/\[framewire\] ready in /, 120_000);
    return cli;
  };

  it('keeps the services JSON when stdout is not a terminal', async () => {
    const cli = await startSystem({});
    const output = cli.output();
    expect(await cli.stop('SIGTERM')).toBe(0);
    const records = output.split('\n').filter((line) => line.startsWith('{'));
    expect(records.length).toBeGreaterThan(0);
    const services = new Set(records.map((line) => (JSON.parse(line) as { service: string }).service));
    expect([...services].sort()).toEqual(['gateway', 'jobs', 'worker']);
    // The banner stands apart: framed, with the dashboard and the key.
    expect(output).toMatch(/^┌─ Framewire ─+\n│ dashboard: http:\/\/127\.0\.0\.1:\d+\/\n/m);
    expect(output).toMatch(/^│ API key: fwk_\S+ {2}\(admin/m);
  }, 180_000);

  it('shows readable lines with LOG_FORMAT=pretty: time, level, service, message', async () => {
    const cli = await startSystem({ LOG_FORMAT: 'pretty' });
    const output = cli.output();
    expect(await cli.stop('SIGTERM')).toBe(0);
    expect(output.split('\n').filter((line) => line.startsWith('{"level"'))).toEqual([]);
    for (const service of ['gateway', 'jobs', 'worker-1']) expect(output).toMatch(new RegExp(`^\\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  ${service} +\\S`, 'm'));
    // No colour codes when the output is not a terminal.
    expect(output).not.toContain('\u001b[');
  }, 180_000);

  it('a service run by itself writes readable lines with LOG_FORMAT=pretty, and JSON without it when piped', async () => {
    const own = await freshSchema();
    schemas.push(own);
    const env = { NATS_URL: TEST_NATS_URL, DATABASE_URL: own.url, DATABASE_SCHEMA: own.schema, FRAMEWIRE_NAMESPACE: freshName('one') };
    const pretty = spawnService('jobs (pretty)', 'jobs', { ...env, LOG_FORMAT: 'pretty' });
    await pretty.waitForLine(/^\d\d:\d\d:\d\d\.\d{3} INFO {2}jobs {6}jobs service ready namespace=one/, 60_000);
    expect(await pretty.stop('SIGTERM')).toBe(0);
    expect(pretty.output()).not.toMatch(/^\{"level"/m);
    const json = spawnService('jobs (json)', 'jobs', env);
    const ready = await json.waitForLine(/jobs service ready/, 60_000);
    expect(JSON.parse(ready)).toMatchObject({ level: 'info', service: 'jobs', msg: 'jobs service ready' });
    expect(await json.stop('SIGTERM')).toBe(0);
  }, 120_000);
});
