import { execFile } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstream } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { jobSubjects } from '@app/contracts';
import { ensureEventStream } from '@app/event-store';
import { natsConfig, startLocalNats, type LocalNats } from './local-nats.js';
import { ensureLocalNatsPasswords, LOCAL_NATS_USERS_FILE, localNatsAuthorization } from './local-nats-users.js';
import { testNatsServerBinary } from '../../../../test/support/servers.js';

const run = promisify(execFile);

/** The config `framewire start` writes, checked by the nats-server it runs (`-t` tests a config). */
describe('local nats-server config against nats-server itself', () => {
  let dir = '';
  let binary = '';

  const check = async (text: string) => {
    const path = join(dir, `nats-${Math.random().toString(36).slice(2)}.conf`);
    await writeFile(path, text);
    return run(binary, ['-c', path, '-t']).then(
      () => ({ ok: true, output: '' }),
      (error: { stderr?: string; stdout?: string }) => ({ ok: false, output: `${error.stderr ?? ''}${error.stdout ?? ''}` }),
    );
  };

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'framewire-nats-conf-'));
    binary = await testNatsServerBinary();
  });
  afterAll(() => rm(dir, { recursive: true, force: true }));

  it.each(['always', '2m', '10s', '1h30m', '250ms'])('is accepted with sync_interval %s', async (interval) => {
    expect(await check(natsConfig(4222, join(dir, 'store'), interval).text)).toEqual({ ok: true, output: '' });
  });

  it('needs the quotes it writes around an interval: bare, `2m` reads as a size', async () => {
    const bare = natsConfig(4222, join(dir, 'store'), '2m').text.replace('"2m"', '2m');
    expect(await check(bare)).toMatchObject({ ok: false, output: expect.stringContaining('sync_interval') });
  });
});

/** The nats-server that `framewire start` runs when no NATS answers: a user per service, nobody else. */
describe('local nats-server users', () => {
  let dir = '';
  let nats: LocalNats | null = null;
  const subjects = jobSubjects('localusers');
  const lines: string[] = [];

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'framewire-nats-users-'));
  });
  afterAll(async () => {
    await nats?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps generated passwords in the data directory (0600), the same ones on the next start', async () => {
    const first = ensureLocalNatsPasswords(dir);
    const file = join(dir, LOCAL_NATS_USERS_FILE);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
    expect(Object.keys(first).sort()).toEqual(['admin', 'gateway', 'jobs', 'worker']);
    expect(new Set(Object.values(first)).size).toBe(4);
    // nats-server reads a `$VARIABLE` as a config value: a letter first keeps it a string.
    for (const password of Object.values(first)) expect(password).toMatch(/^[a-z][a-z0-9]{31,}$/i);
    await chmod(file, 0o644);
    expect(ensureLocalNatsPasswords(dir)).toEqual(first);
    expect((await stat(file)).mode & 0o777).toBe(0o600);
  });

  it('refuses an anonymous client and a wrong password; each service gets only its own subjects', async () => {
    const passwords = ensureLocalNatsPasswords(dir);
    nats = await startLocalNats(dir, (line) => lines.push(line), localNatsAuthorization(subjects.namespace, passwords), { binary: await testNatsServerBinary() });
    expect(nats.version).toMatch(/^\d+\.\d+\.\d+/);
    // The config names the password variables, never a password.
    const config = await readFile(join(dir, 'nats-server.conf'), 'utf8');
    expect(config).toMatch(/^ {2}sync_interval: always$/m);
    expect(config).toContain('$FRAMEWIRE_NATS_WORKER_PASSWORD');
    for (const password of Object.values(passwords)) expect(config).not.toContain(password);

    await expect(connect({ servers: nats.url, reconnect: false, timeout: 3000 })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: nats.url, reconnect: false, timeout: 3000, user: 'admin', pass: 'wrong' })).rejects.toThrow(/authorization/i);
    await expect(connect({ servers: nats.url, reconnect: false, timeout: 3000, user: 'jobs', pass: passwords.gateway })).rejects.toThrow(/authorization/i);

    const jobs = await connect({ servers: nats.url, reconnect: false, user: 'jobs', pass: passwords.jobs, inboxPrefix: '_INBOX_jobs' });
    const gateway = await connect({ servers: nats.url, reconnect: false, user: 'gateway', pass: passwords.gateway, inboxPrefix: '_INBOX_gateway' });
    try {
      await ensureEventStream(jobs, subjects);
      const jobId = '00000000-0000-4000-8000-000000000001';
      await expect(jetstream(gateway, { timeout: 2000 }).publish(subjects.submitted(jobId, 'normal'), '{}')).resolves.toMatchObject({ stream: subjects.streamName });
      await expect(jetstream(gateway, { timeout: 2000 }).publish(subjects.lifecycle(jobId), '{}')).rejects.toThrow();
    } finally {
      await jobs.close();
      await gateway.close();
    }
    // The refused logins are in the server's log, which start passes on; no password ever is.
    expect(lines.join('\n')).toMatch(/authentication error - User "admin"/);
    for (const password of Object.values(passwords)) expect(lines.join('\n')).not.toContain(password);
  });
});
