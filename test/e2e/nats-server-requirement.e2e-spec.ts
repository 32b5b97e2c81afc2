import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnService, type AppName } from '../support/processes.js';
import { scratchDir, startNatsServer, type NatsServer } from '../support/servers.js';
import { freshName, freshSchema, type TestSchema } from '../support/services.js';

/** Debian 12's nats-server 2.9.10: what these machines run on 127.0.0.1:4222, older than Framewire supports. */
const OLD_NATS_SERVER = '/usr/sbin/nats-server';

/**
 * Each built service, started against a nats-server 2.9 (one this test starts on a free port),
 * refuses it at start: one line naming the server, its version and what to do, no stack, and a
 * non-zero exit.
 */
describe('the services on a nats-server too old for them', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let old: NatsServer;
  let db: TestSchema;

  beforeAll(async () => {
    if (!existsSync(OLD_NATS_SERVER)) throw new Error(`${OLD_NATS_SERVER} (Debian 12's nats-server 2.9) is needed for this test`);
    scratch = await scratchDir('framewire-old-nats-');
    old = await startNatsServer({ storeDir: join(scratch.dir, 'old'), binary: OLD_NATS_SERVER, syncInterval: null });
    db = await freshSchema();
  });
  afterAll(async () => {
    await old?.stop();
    await db?.drop();
    await scratch?.cleanup();
  });

  it.each(['jobs', 'worker', 'gateway'] as AppName[])('%s refuses it in one line and exits non-zero', async (app) => {
    const service = spawnService(app, app, {
      NATS_URL: old.url,
      FRAMEWIRE_NAMESPACE: freshName('old'),
      DATABASE_URL: db.url,
      DATABASE_SCHEMA: db.schema,
      PORT: '0',
      HOST: '127.0.0.1',
    });
    const code = await service.exited();
    const output = service.output();
    expect([code, output]).toEqual([1, expect.any(String)]);
    const refusals = output.split('\n').filter((line) => /too old/.test(line));
    expect(refusals).toEqual([
      expect.stringMatching(new RegExp(`^framewire ${app}: failed to start: nats-server 2\\.9\\.\\d+ at 127\\.0\\.0\\.1:${old.port} is too old: Framewire needs nats-server 2\\.12 or newer: .*scripts/nats-server\\.sh`)),
    ]);
    // One clear line, not a stack trace.
    expect(output).not.toMatch(/^\s+at /m);
  });
});
