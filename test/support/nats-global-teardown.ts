import { rm } from 'node:fs/promises';
import type { TestNatsServer } from './nats-global-setup.js';

/** As in nats-global-setup.ts (Jest loads these files outside its module mapping: only a type crosses). */
const TEST_NATS_SERVER_KEY = '__framewireTestNatsServer';

/** Jest's globalTeardown: stops the nats-server that nats-global-setup.ts started (if it did) and removes its store. */
export default async function globalTeardown(): Promise<void> {
  const server = (globalThis as Record<string, unknown>)[TEST_NATS_SERVER_KEY] as TestNatsServer | undefined;
  if (!server) return;
  const { child } = server;
  if (child.exitCode === null && child.signalCode === null) {
    await new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGTERM');
    });
  }
  await rm(server.dir, { recursive: true, force: true });
}
