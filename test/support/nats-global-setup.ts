import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

/**
 * Jest's globalSetup (see jest.config.js): unless TEST_NATS_URL names a server, the whole run gets
 * one nats-server of its own, the one scripts/nats-server.sh finds or fetches (2.12 or newer), with
 * `sync_interval: always` and its store in a scratch directory, on a free loopback port. Its URL goes
 * to the test files as TEST_NATS_URL (workers inherit the environment); nats-global-teardown.ts stops it.
 *
 * Jest loads this file outside its module mapping, so it imports only Node's modules and packages.
 */

export interface TestNatsServer {
  url: string;
  dir: string;
  child: ChildProcess;
}

/** Where the teardown finds the server: globalSetup and globalTeardown share one global scope. */
const TEST_NATS_SERVER_KEY = '__framewireTestNatsServer';

export default async function globalSetup(_globalConfig: unknown, projectConfig: { rootDir: string }): Promise<void> {
  if (process.env['TEST_NATS_URL']) return;
  const script = join(projectConfig.rootDir, 'scripts', 'nats-server.sh');
  const binary = (await promisify(execFile)('bash', [script], { timeout: 300_000 }).catch((error: { stderr?: string; message: string }) => {
    throw new Error(`the tests need a nats-server 2.12 or newer and ${script} found or fetched none (${(error.stderr ?? error.message).trim()}); set TEST_NATS_URL to a running one instead`);
  })).stdout.trim();
  const dir = await mkdtemp(join(tmpdir(), 'framewire-test-nats-'));
  const port = await freePort();
  const config = join(dir, 'nats-server.conf');
  await writeFile(config, [`listen: 127.0.0.1:${port}`, 'jetstream {', `  store_dir: ${JSON.stringify(join(dir, 'store'))}`, '  sync_interval: always', '}', ''].join('\n'));
  let log = '';
  const child = spawn(binary, ['-c', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  child.stderr?.on('data', (chunk: Buffer) => (log = (log + chunk.toString()).slice(-4000)));
  const url = `nats://127.0.0.1:${port}`;
  try {
    await waitForJetStream(url, child, () => log);
  } catch (error) {
    child.kill('SIGKILL');
    await rm(dir, { recursive: true, force: true });
    throw error;
  }
  process.env['TEST_NATS_URL'] = url;
  (globalThis as Record<string, unknown>)[TEST_NATS_SERVER_KEY] = { url, dir, child } satisfies TestNatsServer;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no free port'))));
    });
  });
}

async function waitForJetStream(url: string, child: ChildProcess, log: () => string): Promise<void> {
  const deadline = Date.now() + 20_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`the test nats-server exited (${child.exitCode}):\n${log()}`);
    const nc = await connect({ servers: url, reconnect: false, timeout: 1000 }).catch(() => null);
    if (nc) {
      try {
        await (await jetstreamManager(nc, { timeout: 1000 })).getAccountInfo();
        return;
      } catch {
        // not ready yet
      } finally {
        await nc.close().catch(() => undefined);
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`the test nats-server at ${url} did not answer JetStream requests within 20 s:\n${log()}`);
}
