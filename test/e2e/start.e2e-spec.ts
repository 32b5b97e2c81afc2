import { chmod, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from '@nats-io/transport-node';
import { freeTcpPort, spawnCli, type ServiceProcess } from '../support/processes.js';
import { scratchDir, startNatsServer, type NatsServer } from '../support/servers.js';
import { eventually } from '../support/services.js';
import { isListening } from '../../apps/cli/src/start/net-probe.js';
import { makeVideo, mediaDir } from '../support/videos.js';

/**
 * `framewire start` on a machine with nothing running: it starts a nats-server of its own (from
 * scripts/nats-server.sh, fsyncing every write before its ack) and an embedded PostgreSQL under its data directory, then the services. (--local-services forces that
 * path here, where a NATS and a PostgreSQL are already running.) A second start on the same data
 * directory finds the jobs of the first.
 */
describe('framewire start with its own NATS and PostgreSQL', () => {
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let running: ServiceProcess | null = null;
  let port = 0;
  let auth: Record<string, string> = {};
  const base = () => `http://127.0.0.1:${port}`;

  async function startSystem(): Promise<ServiceProcess> {
    port = await freeTcpPort();
    const cli = spawnCli('framewire start', ['start', '--local-services', '--data-dir', join(media.dir, 'data'), '--port', String(port)], {
      LOG_LEVEL: 'warn',
    });
    running = cli;
    await cli.waitForLine(/gateway: http/, 60_000);
    // Secure by default: the gateway answers 401 until a key is sent.
    await eventually(async () => ((await fetch(`${base()}/v1/jobs?limit=1`).catch(() => null))?.status === 401 ? true : undefined), 60_000, 'the gateway');
    return cli;
  }

  beforeAll(async () => {
    media = await mediaDir();
    // As root, the embedded PostgreSQL runs as the postgres user, which must be able to reach its directory.
    await chmod(media.dir, 0o755);
  });
  afterAll(async () => {
    await running?.stop('SIGTERM');
    await media?.cleanup();
  });

  it('runs a job, stops cleanly, and keeps it across a restart', async () => {
    const first = await startSystem();
    expect(first.output()).toMatch(/starting a nats-server of its own \(--local-services\)/);
    // Its banner names the NATS, its version and its durability; its config fsyncs every write before the ack.
    expect(first.output()).toMatch(/│ NATS: nats:\/\/127\.0\.0\.1:\d+, nats-server 2\.(1[2-9]|[2-9]\d)\.\d+\S* started here, sync_interval: always$/m);
    expect(first.output()).toMatch(/│ PostgreSQL: postgres:\/\/framewire:\*\*\*@127\.0\.0\.1:\d+\/framewire, fsync on, synchronous_commit on \(a commit is on disk before it returns\)$/m);
    expect(first.output()).toMatch(/durability: sync_interval: always \(each write is on disk before its ack: a machine crash loses nothing acknowledged\)/);
    expect(await readFile(join(media.dir, 'data', 'nats-server.conf'), 'utf8')).toMatch(/^ {2}sync_interval: always$/m);
    expect(first.output()).toMatch(/embedded PostgreSQL at postgres:\/\/framewire:\*\*\*@127\.0\.0\.1/);
    // The first start creates an admin key and shows it in its banner, on the line the acceptance
    // checks read (the banner comes again at the end of startup if the logs pushed it off the screen).
    const keyLines = first.output().split('\n').filter((line) => /API key: /.test(line));
    expect(keyLines.length).toBeGreaterThanOrEqual(1);
    const key = /API key: (fwk_\S+)/.exec(keyLines[0]!)![1]!;
    expect(keyLines.every((line) => line.includes(`API key: ${key} `))).toBe(true);
    auth = { Authorization: `Bearer ${key}` };
    await eventually(async () => ((await fetch(`${base()}/v1/jobs?limit=1`, { headers: auth })).status === 200 ? true : undefined), 60_000, 'the key to work');
    // Its nats-server has a user per service, with passwords generated once and kept (0600) in the
    // data directory, never printed; nobody gets in without one.
    const natsUrl = /started nats-server.* at (nats:\/\/[^;\s]+);/.exec(first.output())![1]!;
    const usersFile = join(media.dir, 'data', 'nats-users.json');
    expect((await stat(usersFile)).mode & 0o777).toBe(0o600);
    const passwords = JSON.parse(await readFile(usersFile, 'utf8')) as Record<string, string>;
    expect(Object.keys(passwords).sort()).toEqual(['admin', 'gateway', 'jobs', 'worker']);
    expect(new Set(Object.values(passwords)).size).toBe(4);
    for (const password of Object.values(passwords)) {
      expect(password.length).toBeGreaterThanOrEqual(32);
      expect(first.output()).not.toContain(password);
      expect(await readFile(join(media.dir, 'data', 'nats-server.conf'), 'utf8')).not.toContain(password);
    }
    await expect(connect({ servers: natsUrl, reconnect: false, timeout: 3000 })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: natsUrl, reconnect: false, timeout: 3000, user: 'admin', pass: 'not-the-password' })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: natsUrl, reconnect: false, timeout: 3000, user: 'gateway', pass: passwords['worker']! })).rejects.toThrow(/authorization/i);
    await (await connect({ servers: natsUrl, reconnect: false, timeout: 3000, user: 'admin', pass: passwords['admin']! })).close();

    // Every process has its own ops listener, printed at start, that answers.
    const opsLine = /ops \(\/metrics, \/health\/ready\): (.+)/.exec(first.output())![1]!;
    const opsUrls = [...opsLine.matchAll(/(jobs|worker-\d+) (http:\/\/\S+?)(?:,|$)/g)].map((m) => m[2]!);
    expect(opsUrls).toHaveLength(2);
    for (const url of opsUrls) expect((await eventually(async () => (await fetch(`${url}/health/ready`).catch(() => null))?.status === 200 || undefined, 30_000, url))).toBe(true);

    const video = await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 1 });
    const form = new FormData();
    form.set('file', new Blob([await readFile(video)], { type: 'video/mp4' }), 'clip.mp4');
    const res = await fetch(`${base()}/v1/jobs`, { method: 'POST', body: form, headers: auth });
    expect(res.status).toBe(202);
    const { job_id: jobId } = (await res.json()) as { job_id: string };
    const done = await eventually(async () => {
      const view = (await (await fetch(`${base()}/v1/jobs/${jobId}`, { headers: auth })).json()) as { status: string; result: { tools: { probe: { data: { width: number } } } } };
      return view.status === 'completed' ? view : undefined;
    }, 60_000, 'the job to complete');
    expect(done.result.tools.probe.data.width).toBe(320);

    // What the operator and the dashboard read works as each service's own user.
    for (const path of ['/v1/system', '/v1/workers', '/v1/dead-letters', `/v1/jobs/${jobId}/events`, `/v1/jobs/${jobId}/video`, `/v1/jobs/${jobId}/artifacts`, '/metrics']) {
      expect([path, (await fetch(`${base()}${path}`, { headers: auth })).status]).toEqual([path, 200]);
    }
    for (const url of opsUrls) expect((await fetch(`${url}/metrics`)).status).toBe(200);
    for (const path of [`/v1/jobs/${jobId}/stream`, '/v1/stream/jobs']) {
      const live = new AbortController();
      const res = await fetch(`${base()}${path}`, { headers: auth, signal: live.signal });
      expect([path, res.status]).toEqual([path, 200]);
      const reader = res.body!.getReader();
      expect((await reader.read()).done).toBe(false);
      live.abort();
      await reader.cancel().catch(() => undefined);
    }

    // framewire keys finds the running system's database by itself (through its data directory).
    const dataDir = ['--data-dir', join(media.dir, 'data')];
    const created = spawnCli('keys create', ['keys', 'create', '--tenant', 'acme', '--name', 'e2e', '--json', ...dataDir]);
    expect(await created.exited()).toBe(0);
    const acme = JSON.parse(created.output().trim().split('\n').at(-1)!) as { key: string; key_id: string; tenant: string };
    expect(acme).toMatchObject({ tenant: 'acme', key: expect.stringMatching(/^fwk_/) });
    const acmeAuth = { Authorization: `Bearer ${acme.key}` };
    expect((await fetch(`${base()}/v1/jobs/${jobId}`, { headers: acmeAuth })).status).toBe(404); // the default tenant's job
    const listed = spawnCli('keys list', ['keys', 'list', '--json', ...dataDir]);
    expect(await listed.exited()).toBe(0);
    expect((JSON.parse(listed.output().trim()) as Array<{ tenant: string; admin: boolean }>).map((k) => [k.tenant, k.admin])).toEqual([['default', true], ['acme', false]]);
    const revoked = spawnCli('keys revoke', ['keys', 'revoke', acme.key_id, ...dataDir]);
    expect(await revoked.exited()).toBe(0);
    expect(revoked.output()).toMatch(new RegExp(`revoked ${acme.key_id}`));
    expect(revoked.output()).not.toMatch(/warning/);
    expect((await fetch(`${base()}/v1/jobs?limit=1`, { headers: acmeAuth })).status).toBe(401);

    // Every service did all of that within its own permissions: the server (whose errors start passes
    // on) refused nothing but the logins this test tried above.
    expect(first.output()).not.toMatch(/Violation/);
    // (nats-server names the user it refused, and no user at all for an anonymous client.)
    expect(first.output().split('\n').filter((line) => /authentication error/.test(line)).map((line) => /User "([^"]*)"/.exec(line)?.[1] ?? '(anonymous)')).toEqual(['(anonymous)', 'admin', 'gateway']);
    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.output()).toMatch(/\[framewire\] stopped/);
    running = null;

    const second = await startSystem();
    expect(second.output()).not.toMatch(/initialising an embedded PostgreSQL cluster/);
    // The same users and passwords as the first time.
    expect(JSON.parse(await readFile(usersFile, 'utf8'))).toEqual(passwords);
    for (const password of Object.values(passwords)) expect(second.output()).not.toContain(password);
    // The key survives the restart, and no second key is made or printed.
    expect(second.output()).not.toMatch(/API key: /);
    expect(second.output()).toMatch(/API keys: 1 active/);
    // The jobs service answers key lookups once it is up; until then an authenticated request may get 503.
    const again = await eventually(async () => {
      const res = await fetch(`${base()}/v1/jobs/${jobId}`, { headers: auth });
      return res.status === 503 ? undefined : { status: res.status, body: (await res.json()) as { status: string } };
    }, 60_000, 'the jobs service');
    expect(again).toMatchObject({ status: 200, body: { status: 'completed' } });
    expect(second.output()).not.toMatch(/Violation|authentication error/);
    // Its terminal closes (SIGHUP): everything it started stops with it, the nats-server included.
    const secondNats = new URL(/started nats-server.* at (nats:\/\/[^;\s]+);/.exec(second.output())![1]!);
    expect(await second.stop('SIGHUP')).toBe(0);
    running = null;
    expect(second.output()).toMatch(/SIGHUP: stopping services/);
    expect(await isListening(secondNats.hostname, Number(secondNats.port))).toBe(false);
  }, 240_000);
});

/** `framewire start` refuses, in one line and before starting anything, a NATS it cannot run on or a setting it cannot use. */
describe('framewire start with a NATS it cannot use', () => {
  const OLD_NATS_SERVER = '/usr/sbin/nats-server'; // Debian 12's 2.9.10
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let old: NatsServer;

  beforeAll(async () => {
    scratch = await scratchDir('framewire-start-old-nats-');
    old = await startNatsServer({ storeDir: join(scratch.dir, 'old'), binary: OLD_NATS_SERVER, syncInterval: null });
  });
  afterAll(async () => {
    await old?.stop();
    await scratch?.cleanup();
  });

  const refusal = async (env: Record<string, string>, args: string[] = []) => {
    const cli = spawnCli('framewire start', ['start', ...args, '--data-dir', join(scratch.dir, 'data'), '--port', String(await freeTcpPort())], { LOG_LEVEL: 'warn', ...env });
    const code = await cli.exited();
    return { code, lines: cli.output().split('\n').filter((line) => line.trim() !== '') };
  };

  it('stops when NATS_URL names a nats-server older than 2.12, saying so in one line', async () => {
    const { code, lines } = await refusal({ NATS_URL: old.url });
    expect(code).toBe(1);
    expect(lines.filter((line) => /cannot start/.test(line))).toEqual([
      `[framewire] cannot start: NATS at ${old.url} is nats-server 2.9.10, older than the 2.12 Framewire needs: fix NATS_URL (see docs/operations.md), or unset it and start runs a nats-server of its own`,
    ]);
    // It started nothing: no server of its own, no service.
    expect(lines.join('\n')).not.toMatch(/started nats-server|starting a nats-server|jobs|gateway:/);
  });

  it('says in one line how to get a nats-server when it has none to start', async () => {
    // FRAMEWIRE_NATS_SERVER is the binary chosen by hand: scripts/nats-server.sh takes no other, and this one is 2.9.
    const { code, lines } = await refusal({ FRAMEWIRE_NATS_SERVER: OLD_NATS_SERVER }, ['--local-services']);
    expect(code).toBe(1);
    expect(lines.filter((line) => /cannot start/.test(line))).toEqual([
      `[framewire] cannot start: no nats-server 2.12 or newer could be found or fetched (FRAMEWIRE_NATS_SERVER=${OLD_NATS_SERVER} is not a nats-server 2.12 or newer): ` +
        "install nats-server 2.12 or newer (https://github.com/nats-io/nats-server/releases, Homebrew, or Debian unstable's nats-server package) " +
        'and set FRAMEWIRE_NATS_SERVER=/path/to/nats-server, or run `bash scripts/nats-server.sh` to see why the fetch failed',
    ]);
  });

  it('refuses a NATS_SYNC_INTERVAL nats-server would not take, naming it', async () => {
    const { code, lines } = await refusal({ NATS_URL: old.url, NATS_SYNC_INTERVAL: 'sometimes' });
    expect(code).toBe(1);
    expect(lines.filter((line) => /cannot start/.test(line))).toEqual([
      expect.stringMatching(/^\[framewire\] cannot start: invalid configuration: NATS_SYNC_INTERVAL must be "always" or a duration such as 10s, 2m or 1h30m .*\(got "sometimes"\)$/),
    ]);
  });
});
