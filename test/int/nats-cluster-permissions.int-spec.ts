import { randomBytes } from 'node:crypto';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { TestingModule } from '@nestjs/testing';
import { Test } from '@nestjs/testing';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { parseConfig, workerEnvSchema } from '@app/config';
import { encodeEvent, jobSubjects } from '@app/contracts';
import { ensureEventStream, EventStore } from '@app/event-store';
import { connectNats, inboxPrefixOf, type NatsConnection, type ServiceRole } from '@app/nats';
import { createLogger } from '@app/observability';
import { WorkerModule } from '../../apps/worker/src/worker.module.js';
import { jobCompleted, jobStarted, videoSubmitted } from '../support/events.js';
import { freeTcpPort } from '../support/processes.js';
import { scratchDir, startNatsServer, type NatsServer } from '../support/servers.js';
import { eventually, IN_PROCESS_OPS } from '../support/services.js';

const deploy = new URL('../../deploy/nats/', import.meta.url).pathname;
type User = ServiceRole | 'admin';

interface NodePorts {
  client: number;
  http: number;
  route: number;
}

/**
 * deploy/nats/nats-cluster.conf as a test node runs it: only what ties it to containers changes (the
 * addresses and the store directory; `sync_interval: always` stays). Each replacement must match exactly once, so a change to the file makes this fail rather than test
 * something else. Users (the `include` of permissions.conf) and route authentication stay as shipped.
 */
function clusterNodeConfig(text: string, ports: NodePorts, storeDir: string): string {
  const replacements: Array<[RegExp, string]> = [
    [/^listen: 0\.0\.0\.0:4222$/m, `listen: 127.0.0.1:${ports.client}`],
    [/^http: 0\.0\.0\.0:8222$/m, `http: 127.0.0.1:${ports.http}`],
    [/^ {2}store_dir: \/data\/jetstream$/m, `  store_dir: ${JSON.stringify(storeDir)}`],
    [/^ {2}listen: 0\.0\.0\.0:6222$/m, `  listen: 127.0.0.1:${ports.route}`],
  ];
  let out = text;
  for (const [pattern, value] of replacements) {
    expect(text.match(new RegExp(pattern.source, 'gm'))).toHaveLength(1);
    out = out.replace(pattern, value);
  }
  return out;
}

/**
 * The cluster configuration that docker-compose.cluster.yml runs (deploy/nats/nats-cluster.conf with
 * permissions.conf), on three nats-server processes: every node enforces the per-service users, so
 * a client without a user, or with the gateway's, cannot append a lifecycle event or touch the
 * stream, while the jobs service and a worker still do their work; and a node that does not know
 * the route password cannot join.
 */
describe('the shipped NATS cluster config, on three nodes', () => {
  const subjects = jobSubjects('framewire'); // the namespace permissions.conf was rendered for
  // As the README says to make them: a letter first (nats-server reads `$VAR` as a config value, and
  // one that starts with a digit is a number or a parse error), then hex.
  const secret = () => `fw${randomBytes(16).toString('hex')}`;
  const passwords: Record<User | 'route', string> = { gateway: secret(), jobs: secret(), worker: secret(), admin: secret(), route: secret() };
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let template = '';
  const ports: NodePorts[] = [];
  const nodes: NatsServer[] = [];
  const connections: NatsConnection[] = [];
  let url = '';
  let worker: TestingModule | undefined;

  const routesOf = (password: string) => `[${ports.map((p) => `nats-route://route:${password}@127.0.0.1:${p.route}`).join(', ')}]`;
  const env = (name: string, routePassword = passwords.route) => ({
    NATS_SERVER_NAME: name,
    FRAMEWIRE_NATS_GATEWAY_PASSWORD: passwords.gateway,
    FRAMEWIRE_NATS_JOBS_PASSWORD: passwords.jobs,
    FRAMEWIRE_NATS_WORKER_PASSWORD: passwords.worker,
    FRAMEWIRE_NATS_ADMIN_PASSWORD: passwords.admin,
    FRAMEWIRE_NATS_ROUTE_PASSWORD: routePassword,
    // What docker-compose.cluster.yml builds from FRAMEWIRE_NATS_ROUTE_PASSWORD.
    FRAMEWIRE_NATS_ROUTES: routesOf(routePassword),
  });

  async function startNode(name: string, own: NodePorts, routePassword = passwords.route): Promise<NatsServer> {
    const dir = join(scratch.dir, name);
    const file = join(scratch.dir, `${name}.conf`);
    await writeFile(file, clusterNodeConfig(template, own, join(dir, 'jetstream')));
    return startNatsServer({
      storeDir: dir,
      port: own.client,
      config: { file, env: env(name, routePassword), probe: { user: 'admin', pass: passwords.admin }, clustered: true },
    });
  }

  const connectAs = async (user: User) => {
    const nc = await connectNats(url, `cluster-perm-${user}`, { user, pass: passwords[user], inboxPrefix: user === 'admin' ? undefined : inboxPrefixOf(user) });
    connections.push(nc);
    return nc;
  };

  beforeAll(async () => {
    scratch = await scratchDir('framewire-cluster-perm-');
    template = await readFile(join(deploy, 'nats-cluster.conf'), 'utf8');
    // The node configs include permissions.conf from beside them, as in the containers.
    await copyFile(join(deploy, 'permissions.conf'), join(scratch.dir, 'permissions.conf'));
    for (let i = 0; i < 3; i++) ports.push({ client: await freeTcpPort(), http: await freeTcpPort(), route: await freeTcpPort() });
    nodes.push(...(await Promise.all(ports.map((p, i) => startNode(`nats-${i + 1}`, p)))));
    url = nodes.map((n) => n.url).join(',');

    // The jobs service owns the streams: it creates them, at three replicas, as its own user.
    const jobs = await connectAs('jobs');
    await eventually(async () => ((await ensureEventStream(jobs, subjects, { replicas: 3 })).config.num_replicas === 3 ? true : undefined), 30_000, 'an R3 stream');
  }, 60_000);

  afterAll(async () => {
    await worker?.close();
    await Promise.all(connections.map((nc) => nc.close().catch(() => undefined)));
    await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    await scratch?.cleanup();
  });

  it('refuses a client without a user, with a wrong password, or with the route credentials, on every node', async () => {
    for (const node of nodes) {
      await expect(connect({ servers: node.url, reconnect: false, timeout: 2000 })).rejects.toThrow(/authorization/i);
      await expect(connect({ servers: node.url, reconnect: false, timeout: 2000, user: 'worker', pass: passwords.gateway })).rejects.toThrow(/authorization/i);
      await expect(connect({ servers: node.url, reconnect: false, timeout: 2000, user: 'route', pass: passwords.route })).rejects.toThrow(/authorization/i);
    }
  });

  it("lets a worker run a job as its own user, and refuses the gateway's user a lifecycle append and any change to the stream", async () => {
    // A work request, as the gateway appends it.
    const gateway = await connectAs('gateway');
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    await new EventStore(gateway, subjects, 5000).append(submitted, 0);

    // A worker, as its own user, makes its consumers (R3), pulls the job and appends its lifecycle.
    const config = parseConfig(workerEnvSchema, {
      ...IN_PROCESS_OPS,
      NATS_URL: url,
      NATS_USER: 'worker',
      NATS_PASSWORD: passwords.worker,
      NATS_STREAM_REPLICAS: '3',
      FRAMEWIRE_NAMESPACE: subjects.namespace,
      WORKER_ID: 'cluster-worker',
      LOG_LEVEL: 'silent',
    });
    worker = await Test.createTestingModule({ imports: [WorkerModule.forRoot(config, createLogger('worker', 'silent'))] }).compile();
    await worker.init();
    const adminNc = await connectAs('admin');
    const admin = new EventStore(adminNc, subjects, 5000);
    const types = await eventually(async () => {
      const items = await admin.readJob(submitted.jobId);
      return items.length === 3 ? items.map((i) => (i.ok ? i.stored.event.type : 'malformed')) : undefined;
    }, 30_000, 'the worker to complete the job');
    expect(types).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);

    const jsm = await jetstreamManager(adminNc);
    const before = (await jsm.streams.info(subjects.streamName)).state;
    // The gateway may not forge a worker's verdict...
    const forged = jobCompleted(jobStarted(submitted), 2, { forged: true });
    await expect(jetstream(gateway, { timeout: 2000 }).publish(subjects.lifecycle(submitted.jobId), encodeEvent(forged), { msgID: forged.eventId })).rejects.toThrow(
      /permission|timeout|no responders/i,
    );
    // ...nor purge, delete or reconfigure the stream, nor delete the workers' consumer.
    const gatewayJsm = await jetstreamManager(gateway, { timeout: 2000 });
    await expect(gatewayJsm.streams.purge(subjects.streamName)).rejects.toThrow();
    await expect(gatewayJsm.streams.delete(subjects.streamName)).rejects.toThrow();
    await expect(gatewayJsm.streams.update(subjects.streamName, { max_age: 1_000_000_000 })).rejects.toThrow();
    await expect(gatewayJsm.consumers.delete(subjects.streamName, 'workers')).rejects.toThrow();
    const after = await jsm.streams.info(subjects.streamName);
    expect(after.state).toMatchObject({ messages: before.messages, last_seq: before.last_seq });
    expect(after.config.num_replicas).toBe(3);
    // The buckets the worker made as its own user have three replicas too, and so has every durable consumer.
    expect((await jsm.streams.info(`KV_${subjects.workersBucket}`)).config.num_replicas).toBe(3);
    expect((await jsm.streams.info(`OBJ_${subjects.videoBucket}`)).config.num_replicas).toBe(3);
    for await (const consumer of jsm.consumers.list(subjects.streamName)) if (consumer.config.durable_name) expect({ [consumer.name]: consumer.cluster?.replicas?.length }).toEqual({ [consumer.name]: 2 });
    expect((await jsm.consumers.info(subjects.streamName, 'workers')).config.filter_subjects).toEqual([subjects.submittedWith('normal'), subjects.partWorkWith('normal')]);
  });

  it('keeps out a node that does not know the route password', async () => {
    // The nodes routed to, not the routes: 2.10+ pools several routes per peer.
    const routez = async (node: NodePorts) =>
      new Set(((await (await fetch(`http://127.0.0.1:${node.http}/routez`)).json()) as { routes?: { remote_id: string }[] }).routes?.map((r) => r.remote_id) ?? []).size;
    expect(await Promise.all(ports.map(routez))).toEqual([2, 2, 2]);
    const rogue: NodePorts = { client: await freeTcpPort(), http: await freeTcpPort(), route: await freeTcpPort() };
    const logged = nodes.map((n) => n.log().length);
    const intruder = await startNode('rogue', rogue, 'not-the-route-password');
    try {
      // It tries every route of the cluster, and each node turns it away.
      const refused = (n: NatsServer, i: number) => /Authentication Failure|authentication error/i.test(n.log().slice(logged[i]));
      await eventually(async () => (nodes.every(refused) ? true : undefined), 20_000, 'the nodes to refuse the rogue route');
      expect(await Promise.all(ports.map(routez))).toEqual([2, 2, 2]);
      expect(await routez(rogue)).toBe(0);
    } finally {
      await intruder.stop('SIGKILL');
    }
  });
});
