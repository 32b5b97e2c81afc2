import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { jobSubjects, type VideoSubmitted } from '@app/contracts';
import { ensureEventStream, EventStore } from '@app/event-store';
import { connectNats, type NatsConnection } from '@app/nats';
import { videoSubmitted } from '../support/events.js';
import { startNatsCluster, type ClusterNode, type NatsCluster } from '../support/nats-cluster.js';
import { scratchDir } from '../support/servers.js';
import { eventually } from '../support/services.js';

/**
 * Three nats-server processes on loopback (the current server, `sync_interval: always`), clustered,
 * each with its own store; the event stream at
 * three replicas (NATS_STREAM_REPLICAS=3). Publishers append under load, the node that leads the
 * stream is killed, and every event that was ever acknowledged must still be in the stream, once.
 */
describe('event stream on a three-node NATS cluster (R3)', () => {
  const subjects = jobSubjects('cluster');
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let cluster: NatsCluster;
  const nodes: ClusterNode[] = [];
  let nc: NatsConnection;

  beforeAll(async () => {
    scratch = await scratchDir('framewire-cluster-');
    cluster = await startNatsCluster(scratch.dir);
    nodes.push(...cluster.nodes);
    nc = await connectNats(cluster.urls, 'cluster-test');
    // The cluster is usable once it has elected a meta leader and all three peers are known.
    await eventually(async () => ((await ensureEventStream(nc, subjects, { replicas: 3 })).config.num_replicas === 3 ? true : undefined), 30_000, 'an R3 stream');
  }, 60_000);

  afterAll(async () => {
    await nc?.close().catch(() => undefined);
    await cluster?.stop();
    await scratch?.cleanup();
  });

  it('loses no acknowledged event when the stream leader is killed under load', async () => {
    const store = new EventStore(nc, subjects, 2000);
    const acked = new Map<string, number>();
    let failures = 0;
    let stop = false;

    /** Appends each event until it is acknowledged; a retry of a stored event comes back as a duplicate. */
    const publisher = async () => {
      while (!stop) {
        const event: VideoSubmitted = videoSubmitted();
        for (;;) {
          try {
            const { seq } = await store.append(event, 0);
            acked.set(event.eventId, seq);
            break;
          } catch {
            failures++;
            await new Promise((resolve) => setTimeout(resolve, 100));
          }
        }
      }
    };
    const publishers = Array.from({ length: 4 }, publisher);

    await eventually(async () => (acked.size >= 200 ? true : undefined), 30_000, '200 acknowledged appends');
    const jsm = await jetstreamManager(nc);
    const leaderName = (await jsm.streams.info(subjects.streamName)).cluster?.leader;
    const leader = nodes.find((n) => n.name === leaderName);
    expect(leader).toBeDefined();
    const ackedBeforeKill = acked.size;
    await leader!.stop('SIGKILL');

    // The two survivors elect a new leader and go on acknowledging.
    await eventually(async () => (acked.size >= ackedBeforeKill + 200 ? true : undefined), 60_000, '200 more appends after the kill');
    stop = true;
    await Promise.all(publishers);

    const info = await jsm.streams.info(subjects.streamName);
    expect(info.cluster?.leader).not.toBe(leaderName);
    const stored = new Map<string, number>();
    let malformed = 0;
    // Right after a failover, creating the reader's consumer can take a few tries.
    await eventually(async () => {
      stored.clear();
      malformed = 0;
      await new EventStore(nc, subjects, 10_000).readRange(1, info.state.last_seq, async (items) => {
        for (const item of items) {
          if (!item.ok) malformed++;
          else stored.set(item.stored.event.eventId, (stored.get(item.stored.event.eventId) ?? 0) + 1);
        }
      });
      return true;
    }, 60_000, 'reading the stream back');
    const missing = [...acked.keys()].filter((id) => !stored.has(id));
    const twice = [...stored.entries()].filter(([, n]) => n > 1);
    expect({ missing: missing.length, twice: twice.length, malformed }).toEqual({ missing: 0, twice: 0, malformed: 0 });
    // Every stored event was acknowledged to its publisher (retries made sure of it), at its own sequence.
    expect(stored.size).toBe(acked.size);
    expect(info.state.messages).toBe(acked.size);
    process.stdout.write(`cluster: ${acked.size} events acknowledged (${ackedBeforeKill} before the leader ${leaderName} was killed), ${failures} publish attempts failed and were retried, none lost\n`);

    // The killed node comes back and catches up from the others.
    await leader!.start();
    await eventually(async () => {
      const now = await jsm.streams.info(subjects.streamName);
      const replicas = now.cluster?.replicas ?? [];
      return replicas.length === 2 && replicas.every((r) => r.current && !r.offline && (r.lag ?? 0) === 0) ? true : undefined;
    }, 30_000, 'the restarted node to catch up');
  }, 120_000);
});
