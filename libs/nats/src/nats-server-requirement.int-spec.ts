import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { connect } from '@nats-io/transport-node';
import { freeTcpPort } from '../../../test/support/processes.js';
import { scratchDir, startNatsServer, testNatsServerBinary, type NatsServer } from '../../../test/support/servers.js';
import { eventually, TEST_NATS_URL } from '../../../test/support/services.js';
import { checkNatsServer, UnsupportedNatsServerError } from './nats-server-requirement.js';

/** Debian 12's nats-server, older than Framewire supports: what the machines run on 127.0.0.1:4222. */
const OLD_NATS_SERVER = '/usr/sbin/nats-server';

/** checkNatsServer against real servers: the tests' own (accepted), a 2.9 one and one without JetStream (refused). */
describe('the server check every service makes at start', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let old: NatsServer | null = null;
  let noJetStream: ChildProcess | null = null;
  let noJetStreamUrl = '';
  /** A server that runs JetStream, with an account that has none: what a client sees until it answers, for good. */
  let noAccountJetStream: ChildProcess | null = null;
  let noAccountJetStreamUrl = '';

  beforeAll(async () => {
    scratch = await scratchDir('framewire-nats-check-');
    if (existsSync(OLD_NATS_SERVER)) old = await startNatsServer({ storeDir: join(scratch.dir, 'old'), binary: OLD_NATS_SERVER, syncInterval: null });
    const port = await freeTcpPort();
    noJetStream = spawn(await testNatsServerBinary(), ['-a', '127.0.0.1', '-p', String(port)], { stdio: 'ignore' });
    noJetStreamUrl = `nats://127.0.0.1:${port}`;
    await eventually(async () => (await connect({ servers: noJetStreamUrl, reconnect: false }).then((nc) => nc.close().then(() => true)).catch(() => undefined)), 10_000, 'nats-server without JetStream');

    const accountPort = await freeTcpPort();
    const conf = join(scratch.dir, 'accounts.conf');
    writeFileSync(
      conf,
      `listen: 127.0.0.1:${accountPort}\njetstream { store_dir: "${join(scratch.dir, 'accounts-store')}" }\n` +
        `accounts { PLAIN: { users: [ { user: plain, password: plain } ] } }\n`,
    );
    noAccountJetStream = spawn(await testNatsServerBinary(), ['-c', conf], { stdio: 'ignore' });
    noAccountJetStreamUrl = `nats://127.0.0.1:${accountPort}`;
    await eventually(async () => (await connect({ servers: noAccountJetStreamUrl, user: 'plain', pass: 'plain', reconnect: false }).then((nc) => nc.close().then(() => true)).catch(() => undefined)), 10_000, 'nats-server with an account without JetStream');
  });
  afterAll(async () => {
    await old?.stop();
    noJetStream?.kill('SIGTERM');
    noAccountJetStream?.kill('SIGTERM');
    await scratch?.cleanup();
  });

  const checked = async (url: string, settleMs?: number, auth: { user?: string; pass?: string } = {}) => {
    const nc = await connect({ servers: url, reconnect: false, ...auth });
    try {
      return await checkNatsServer(nc, settleMs === undefined ? {} : { settleMs });
    } finally {
      await nc.close();
    }
  };

  it('accepts the server the tests run on, and reports its version', async () => {
    const { version } = await checked(TEST_NATS_URL);
    expect(version).toMatch(/^2\.(1[2-9]|[2-9]\d)\.\d+/);
  });

  it('refuses nats-server 2.9 in one line that says what to do', async () => {
    if (!old) throw new Error(`${OLD_NATS_SERVER} (Debian 12's nats-server 2.9) is needed for this test`);
    const refusal = await checked(old.url).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(UnsupportedNatsServerError);
    const message = (refusal as Error).message;
    expect(message).toMatch(new RegExp(`^nats-server 2\\.9\\.\\d+ at 127\\.0\\.0\\.1:${old.port} is too old: Framewire needs nats-server 2\\.12 or newer: .*scripts/nats-server\\.sh`));
    expect(message).not.toContain('\n');
  });

  it('refuses a server without JetStream', async () => {
    const refusal = await checked(noJetStreamUrl).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(UnsupportedNatsServerError);
    expect((refusal as Error).message).toMatch(/^JetStream is not enabled on nats-server 2\.\d+\.\d+ at 127\.0\.0\.1:\d+: start it with -js/);
  });

  it('waits for a server that advertises JetStream to answer for it (a forming cluster), and refuses it once the wait is over', async () => {
    const started = Date.now();
    const refusal = await checked(noAccountJetStreamUrl, 1500, { user: 'plain', pass: 'plain' }).catch((error: unknown) => error);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1400);
    expect(refusal).toBeInstanceOf(UnsupportedNatsServerError);
    expect((refusal as Error).message).toMatch(/^JetStream is not enabled on nats-server/);
  });
});
