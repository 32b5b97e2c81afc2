import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jobSubjects } from '@app/contracts';
import { connectNats, type NatsConnection } from '@app/nats';
import { scratchDir, startNatsServer, type NatsServer } from '../../../test/support/servers.js';
import { eventually, freshName } from '../../../test/support/services.js';
import { EventStore } from './event-store.js';
import { ensureEventStream } from './stream-setup.js';

/** The event store on a NATS server of its own, which the test stops and starts again. */
describe('EventStore across a NATS outage', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let nats: NatsServer;
  let nc: NatsConnection;

  beforeAll(async () => {
    scratch = await scratchDir('framewire-store-outage-');
    nats = await startNatsServer({ storeDir: join(scratch.dir, 'nats') });
    nc = await connectNats(nats.url, 'test-store-outage');
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop('SIGKILL');
    await scratch?.cleanup();
  });

  it('reads the stream once NATS is back, when its first read came while NATS was away', async () => {
    const subjects = jobSubjects(freshName('t'));
    await ensureEventStream(nc, subjects);
    const store = new EventStore(nc, subjects, 500);
    await nats.stop();
    await expect(store.lastSeq()).rejects.toThrow();
    await nats.start();
    const lastSeq = await eventually(() => store.lastSeq().catch(() => undefined), 20_000, 'the stream to be read after NATS is back');
    expect(lastSeq).toBe(0);
  });
});
