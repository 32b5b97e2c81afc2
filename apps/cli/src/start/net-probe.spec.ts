import { createServer, type Server } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { anyListening, freePort } from './net-probe.js';

describe('anyListening', () => {
  let server: Server;
  let port = 0;

  beforeAll(async () => {
    server = createServer((socket) => socket.destroy());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as { port: number }).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("takes a cluster's NATS_URL as up when any of its servers listens, the first one included or not", async () => {
    const closed = await freePort();
    expect(await anyListening([`nats://127.0.0.1:${closed}`, `nats://127.0.0.1:${port}`])).toBe(true);
    expect(await anyListening([`nats://127.0.0.1:${port}`, `nats://127.0.0.1:${closed}`])).toBe(true);
    expect(await anyListening([`nats://127.0.0.1:${closed}`])).toBe(false);
    expect(await anyListening(['not a url'])).toBe(false);
  });
});
