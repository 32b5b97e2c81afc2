import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { eventually, freshNamespace, type TestNamespace } from '../../../test/support/services.js';
import type { WorkerInfo } from '@app/contracts';
import { WorkerRegistry } from './worker-registry.js';

const info = (id: string, heartbeat: string, inFlight: string[] = []): WorkerInfo => ({
  worker_id: id,
  host: 'test-host',
  pid: 42,
  concurrency: 2,
  in_flight: inFlight,
  pipelines: ['probe'],
  started_at: '2026-01-01T00:00:00.000Z',
  last_heartbeat: heartbeat,
});

describe('worker registry in a KV bucket', () => {
  let ns: TestNamespace;

  beforeAll(async () => {
    ns = await freshNamespace();
  });
  afterAll(() => ns.cleanup());

  it('lists announced workers newest heartbeat first, keeps the latest entry per worker, and forgets removed ones', async () => {
    const registry = await WorkerRegistry.open(ns.nc, ns.subjects.workersBucket);
    await registry.announce(info('w-1', '2026-01-01T00:00:01.000Z'));
    await registry.announce(info('host:w@2', '2026-01-01T00:00:02.000Z'));
    await registry.announce(info('w-1', '2026-01-01T00:00:03.000Z', ['job-a']));
    expect(await registry.list()).toEqual([info('w-1', '2026-01-01T00:00:03.000Z', ['job-a']), info('host:w@2', '2026-01-01T00:00:02.000Z')]);
    await registry.remove('host:w@2');
    expect((await registry.list()).map((w) => w.worker_id)).toEqual(['w-1']);
  });

  it('drops a worker that stops refreshing its entry once the TTL has passed', async () => {
    const registry = await WorkerRegistry.open(ns.nc, `${ns.subjects.workersBucket}_ttl`, { ttlMs: 1000 });
    try {
      await registry.announce(info('w-gone', new Date().toISOString()));
      expect(await registry.list()).toHaveLength(1);
      await eventually(async () => ((await registry.list()).length === 0 ? true : undefined), 10_000, 'the entry to expire');
    } finally {
      const { jetstreamManager } = await import('@nats-io/jetstream');
      await (await jetstreamManager(ns.nc)).streams.delete(`KV_${ns.subjects.workersBucket}_ttl`).catch(() => undefined);
    }
  });
});
