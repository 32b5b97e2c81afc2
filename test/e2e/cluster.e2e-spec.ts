import { randomUUID } from 'node:crypto';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { jobSubjects, type JobEvent } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { connectNats, type NatsConnection } from '@app/nats';
import { checkJob } from '../chaos/chaos.js';
import { startNatsCluster, type ClusterNode, type NatsCluster } from '../support/nats-cluster.js';
import { scratchDir } from '../support/servers.js';
import { eventually, freshName, freshSchema, TEST_DATABASE_URL, type TestSchema } from '../support/services.js';
import { TestSystem } from '../support/system.js';
import { makeVideo } from '../support/videos.js';

/**
 * The cluster deployment run for real (issue 16, section 6): three nats-server processes (the current
 * server, `sync_interval: always`), the gateway, the jobs service and two workers as processes with a
 * NATS_URL naming all three servers and NATS_STREAM_REPLICAS=3. Jobs are submitted over HTTP while
 * the event stream's leader is SIGKILLed, and later the seed node (the first server of NATS_URL).
 * Every job must end once, and every route must answer with one node still down.
 */
describe('the whole system on a three-node NATS cluster', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let cluster: NatsCluster;
  let nc: NatsConnection;
  let db: TestSchema;
  let system: TestSystem;
  let base = '';
  let clip = '';
  const ops = new Map<string, string>();
  const namespace = freshName('cl');
  const subjects = jobSubjects(namespace);
  const services = ['jobs', 'worker-1', 'worker-2'] as const;

  beforeAll(async () => {
    scratch = await scratchDir('framewire-cluster-e2e-');
    cluster = await startNatsCluster(scratch.dir, { name: freshName('c') });
    nc = await connectNats(cluster.urls, 'cluster-e2e');
    // The cluster serves JetStream once it has a meta leader.
    await eventually(async () => ((await (await jetstreamManager(nc, { timeout: 3000 })).getAccountInfo()) ? true : undefined), 60_000, 'a JetStream meta leader');
    db = await freshSchema();
    clip = await makeVideo(join(scratch.dir, 'clip.mp4'), { seconds: 0.4, width: 64, height: 48 });
    system = new TestSystem({
      NATS_URL: cluster.urls,
      NATS_STREAM_REPLICAS: '3',
      DATABASE_URL: TEST_DATABASE_URL,
      DATABASE_SCHEMA: db.schema,
      FRAMEWIRE_NAMESPACE: namespace,
    });
    system.start('jobs', 'jobs');
    await system.get('jobs').waitForLine(/jobs service ready/, 90_000);
    system.start('worker-1', 'worker', { WORKER_ID: 'cluster-worker-1', WORKER_CONCURRENCY: '2' });
    system.start('worker-2', 'worker', { WORKER_ID: 'cluster-worker-2', WORKER_CONCURRENCY: '2' });
    base = await system.startGateway('gateway');
    await Promise.all([system.get('worker-1').waitForLine(/worker pulling jobs/, 90_000), system.get('worker-2').waitForLine(/worker pulling jobs/, 90_000)]);
    for (const name of services) {
      const line = await system.get(name).waitForLine(/ops listening/, 30_000);
      ops.set(name, `http://127.0.0.1:${(JSON.parse(line) as { opsPort: number }).opsPort}`);
    }
    await system.authenticate();
  }, 150_000);

  afterAll(async () => {
    // FRAMEWIRE_TEST_LOGS=<dir> keeps every process's output (services and nats nodes) for a post-mortem.
    const keep = process.env['FRAMEWIRE_TEST_LOGS'];
    if (keep && system && cluster) {
      await mkdir(keep, { recursive: true });
      for (const [name, service] of system.services) await writeFile(join(keep, `${name}.log`), service.output());
      for (const node of cluster.nodes) await writeFile(join(keep, `${node.name}.log`), node.log());
    }
    await system?.stopAll('SIGKILL');
    await nc?.close().catch(() => undefined);
    await cluster?.stop();
    await db?.drop();
    await scratch?.cleanup();
  });

  it('completes every job once through a killed stream leader and a killed seed node, and every route answers', async () => {
    // Submitters: each job has its own Idempotency-Key, so a retry after a failed or unanswered
    // request (a 503 during the failover) is the same job, never a second one.
    const accepted = new Map<string, string>();
    const refusals = new Map<string, number>();
    let submitting = true;
    const submitter = async () => {
      while (submitting) {
        const key = randomUUID();
        for (;;) {
          const res = await system.submitFile(base, clip, {}, { 'Idempotency-Key': key }, AbortSignal.timeout(30_000)).catch((error: unknown) => error as Error);
          if (res instanceof Response && res.status === 202) {
            accepted.set(key, ((await res.json()) as { job_id: string }).job_id);
            break;
          }
          const why = res instanceof Response ? String(res.status) : res.name;
          if (res instanceof Response) await res.body?.cancel();
          refusals.set(why, (refusals.get(why) ?? 0) + 1);
          await new Promise((resolve) => setTimeout(resolve, 250));
        }
      }
    };
    const submitters = Array.from({ length: 3 }, submitter);
    const reach = (n: number, what: string) => eventually(async () => (accepted.size >= n ? true : undefined), 90_000, what);

    try {
      await reach(20, '20 accepted jobs');
      const leader = await cluster.leaderOf(subjects.streamName);
      await leader.stop('SIGKILL');
      const atLeaderKill = accepted.size;
      await reach(atLeaderKill + 20, '20 jobs accepted after the stream leader was killed');
      // Back with a quorum of three before the next kill.
      await leader.start();
      await eventually(async () => {
        const info = await (await jetstreamManager(nc, { timeout: 3000 })).streams.info(subjects.streamName);
        return (info.cluster?.replicas ?? []).filter((r) => r.current && !r.offline).length === 2 ? true : undefined;
      }, 90_000, `${leader.name} to catch up`);

      const seed: ClusterNode = cluster.nodes[0]!;
      expect(cluster.urls.split(',')[0]).toBe(seed.url);
      await seed.stop('SIGKILL');
      const atSeedKill = accepted.size;
      await reach(atSeedKill + 20, '20 jobs accepted after the seed node was killed');
      // Refusals during a failover are 503s (or a dropped connection), never a 500 or another 4xx.
      expect([...refusals.keys()].filter((why) => /^\d+$/.test(why) && why !== '503')).toEqual([]);
      process.stdout.write(`cluster e2e: killed stream leader ${leader.name} at ${atLeaderKill} jobs, seed ${seed.name} at ${atSeedKill}; refused submissions (retried): ${JSON.stringify(Object.fromEntries(refusals))}\n`);
    } finally {
      submitting = false;
      await Promise.all(submitters);
    }

    // Every job ends, once: one VideoSubmitted and one terminal event each, read from the stream.
    const jobIds = new Set(accepted.values());
    expect(jobIds.size).toBe(accepted.size);
    const store = new EventStore(nc, subjects, 10_000);
    let unended: string[] = [];
    const histories = await eventually(
      async () => {
        const byJob = new Map<string, JobEvent[]>();
        await store.readRange(1, (await store.streamState()).lastSeq, async (items) => {
          for (const item of items) {
            if (!item.ok) continue;
            byJob.set(item.stored.event.jobId, [...(byJob.get(item.stored.event.jobId) ?? []), item.stored.event]);
          }
        });
        unended = [...jobIds].filter((id) => !checkJob(byJob.get(id) ?? []).ended).map((id) => `${id}: ${(byJob.get(id) ?? []).map((e) => e.type).join(',')}`);
        return unended.length === 0 ? byJob : undefined;
      },
      120_000,
      'every accepted job to end',
    ).catch((error: unknown) => {
      throw new Error(`${String(error)}; ${unended.length} of ${jobIds.size} not ended, e.g. ${unended.slice(0, 5).join(' | ')}`);
    });
    const problems = [...histories.entries()].flatMap(([id, events]) => checkJob(events).problems.map((p) => `${id}: ${p}`));
    expect(problems).toEqual([]);
    // No job the submitters were not told of (a retried submission that made a second job).
    expect([...histories.keys()].filter((id) => !jobIds.has(id))).toEqual([]);
    const outcomes = [...jobIds].map((id) => histories.get(id)!.at(-1)!.type);
    expect(new Set(outcomes)).toEqual(new Set(['JobCompleted']));

    // Every route answers with the seed node still down: the jobs list (all of them), the workers'
    // registry, the seeds' worker health, and readiness of every service.
    const listed = await eventually(async () => {
      const ids: string[] = [];
      let cursor: string | null = null;
      do {
        const res = await system.fetch(`${base}/v1/jobs?limit=100${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        if (res.status !== 200) return undefined;
        const page = (await res.json()) as { jobs: Array<{ job_id: string; status: string }>; next_cursor: string | null };
        ids.push(...page.jobs.filter((j) => j.status === 'completed').map((j) => j.job_id));
        cursor = page.next_cursor;
      } while (cursor);
      return ids.length === jobIds.size ? ids : undefined;
    }, 60_000, 'every job listed as completed');
    expect(new Set(listed)).toEqual(jobIds);

    const workers = await system.fetch(`${base}/v1/workers`);
    expect(workers.status).toBe(200);
    expect(((await workers.json()) as { workers: Array<{ worker_id: string }> }).workers.map((w) => w.worker_id).sort()).toEqual(['cluster-worker-1', 'cluster-worker-2']);
    const health = await system.fetch(`${base}/v1/worker/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({ alive: true, last_heartbeat: expect.any(String) });
    for (const url of [base, ...services.map((name) => ops.get(name)!)]) {
      const ready = await eventually(async () => {
        const res = await fetch(`${url}/health/ready`);
        return res.status === 200 ? res : undefined;
      }, 30_000, `${url}/health/ready`);
      expect(await ready.json()).toMatchObject({ status: 'ok' });
    }
    expect(services.filter((name) => !system.alive(name))).toEqual([]);
    expect(system.alive('gateway')).toBe(true);

    // Every stream and bucket of the namespace, and every durable consumer, has three replicas.
    const jsm = await jetstreamManager(nc);
    const streams = [subjects.streamName, subjects.advisoryStreamName, `OBJ_${subjects.videoBucket}`, `KV_${subjects.workersBucket}`];
    const replicas: Record<string, number> = {};
    for (const name of streams) {
      replicas[name] = (await jsm.streams.info(name)).config.num_replicas;
      for await (const consumer of jsm.consumers.list(name)) {
        if (consumer.config.durable_name) replicas[`${name}/${consumer.name}`] = (consumer.cluster?.replicas?.length ?? 0) + 1;
      }
    }
    expect(Object.entries(replicas).filter(([, n]) => n !== 3)).toEqual([]);
    expect(Object.keys(replicas).length).toBeGreaterThan(streams.length);
    process.stdout.write(`cluster e2e: ${jobIds.size} jobs, each submitted once and completed once; replicas ${JSON.stringify(replicas)}\n`);
  }, 170_000);
});
