import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { freeTcpPort } from './processes.js';
import { startNatsServer, type NatsServer } from './servers.js';

/**
 * A NATS cluster that a test owns: `size` nats-server processes (the binary of scripts/nats-server.sh,
 * 2.12 or newer) on loopback, each with its own store and `sync_interval: always`, so a test can
 * kill, stop (SIGSTOP) and damage single nodes or all of them.
 */

export interface ClusterNode extends NatsServer {
  /** n1, n2, ...: the server_name, as stream infos name leaders and replicas. */
  readonly name: string;
  /** The node's JetStream store directory (`jetstream/<account>/streams/<stream>/msgs/*.blk` below it). */
  readonly storeDir: string;
  /** SIGSTOP: the process is frozen, its sockets stay open (a stalled node, not a dead one). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
}

export interface NatsCluster {
  readonly nodes: ClusterNode[];
  /** Every node's client URL, comma-separated, as NATS_URL takes them. */
  readonly urls: string;
  node(name: string): ClusterNode;
  /**
   * The server that leads `stream` now, once there is one (fails after `timeoutMs`), asked through
   * `via` (default: every running node; leave out a paused one, whose socket accepts but never answers).
   */
  leaderOf(stream: string, timeoutMs?: number, via?: ClusterNode[]): Promise<ClusterNode>;
  /** SIGKILLs every node still running. */
  stop(): Promise<void>;
}

export async function startNatsCluster(dir: string, options: { size?: number; name?: string } = {}): Promise<NatsCluster> {
  const size = options.size ?? 3;
  const clusterName = options.name ?? 'framewire-test';
  const clientPorts: number[] = [];
  const routePorts: number[] = [];
  for (let i = 0; i < size; i++) {
    clientPorts.push(await freeTcpPort());
    routePorts.push(await freeTcpPort());
  }
  const nodes = await Promise.all(
    clientPorts.map(async (port, i): Promise<ClusterNode> => {
      const name = `n${i + 1}`;
      const storeDir = join(dir, name);
      await mkdir(storeDir, { recursive: true });
      const file = join(dir, `${name}.conf`);
      await writeFile(
        file,
        [
          `server_name: ${name}`,
          `listen: 127.0.0.1:${port}`,
          `jetstream { store_dir: ${JSON.stringify(storeDir)}, sync_interval: always }`,
          `cluster {`,
          `  name: ${clusterName}`,
          `  listen: 127.0.0.1:${routePorts[i]}`,
          `  routes: [${routePorts.map((p) => `nats-route://127.0.0.1:${p}`).join(', ')}]`,
          `}`,
          '',
        ].join('\n'),
      );
      const server = await startNatsServer({ storeDir, port, config: { file, clustered: true } });
      return Object.assign(Object.create(server) as NatsServer, {
        name,
        storeDir,
        pause: () => void server.process?.kill('SIGSTOP'),
        resume: () => void server.process?.kill('SIGCONT'),
      }) as ClusterNode;
    }),
  );
  const urls = nodes.map((n) => n.url).join(',');
  const node = (name: string) => {
    const found = nodes.find((n) => n.name === name);
    if (!found) throw new Error(`no node ${name}`);
    return found;
  };
  return {
    nodes,
    urls,
    node,
    async leaderOf(stream, timeoutMs = 30_000, via) {
      const deadline = Date.now() + timeoutMs;
      let last = '';
      while (Date.now() < deadline) {
        const nc = await connect({ servers: (via ?? nodes).filter((n) => n.running).map((n) => n.url), timeout: 2000, reconnect: false }).catch(() => null);
        if (nc) {
          try {
            const leader = (await (await jetstreamManager(nc, { timeout: 2000 })).streams.info(stream)).cluster?.leader;
            if (leader) return node(leader);
          } catch (error) {
            last = String(error);
          } finally {
            await nc.close().catch(() => undefined);
          }
        }
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      throw new Error(`no leader for ${stream} within ${timeoutMs} ms${last ? `: ${last}` : ''}`);
    },
    async stop() {
      for (const n of nodes) n.resume();
      await Promise.all(nodes.map((n) => n.stop('SIGKILL')));
    },
  };
}
