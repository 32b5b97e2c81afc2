import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { createConnection } from 'node:net';
import { freeTcpPort } from '../../test/support/processes.js';

/**
 * How redis-server syncs its append-only file: `everysec` (a crash loses up to a second of
 * acknowledged writes, like JetStream's file store on a timer) or `always` (fsynced before the reply,
 * like `sync_interval: always`; redis shares one fsync among the writes of an event-loop turn).
 */
export type AppendFsync = 'everysec' | 'always';

/**
 * A redis-server of the benchmark's own (never the machine's on 6379, which keeps nothing on disk),
 * on a free loopback port, with its data in a temp dir and the append-only file on.
 */
export class OwnRedis {
  private process: ChildProcess | null = null;
  private dir = '';
  port = 0;

  constructor(readonly appendfsync: AppendFsync = 'everysec') {}

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  async start(workDir: string): Promise<this> {
    this.dir = await mkdtemp(join(workDir, 'redis-'));
    this.port = await freeTcpPort();
    const args = ['--bind', '127.0.0.1', '--port', String(this.port), '--dir', this.dir, '--appendonly', 'yes', '--appendfsync', this.appendfsync, '--save', '', '--daemonize', 'no', '--logfile', ''];
    this.process = spawn(process.env['REDIS_SERVER'] ?? 'redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    this.process.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    this.process.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    const failed = new Promise<never>((_, reject) => {
      this.process!.once('error', (error) => reject(new Error(`redis-server could not start (is it on PATH?): ${error.message}`)));
      this.process!.once('exit', (code) => reject(new Error(`redis-server exited (${code}): ${output.slice(-2000)}`)));
    });
    await Promise.race([this.listening(), failed]);
    return this;
  }

  private async listening(): Promise<void> {
    for (let i = 0; i < 200; i++) {
      const ok = await new Promise<boolean>((resolve) => {
        const socket = createConnection({ host: '127.0.0.1', port: this.port }, () => (socket.end(), resolve(true)));
        socket.once('error', () => resolve(false));
      });
      if (ok) return;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    throw new Error('redis-server did not listen within 5 s');
  }

  async stop(): Promise<void> {
    if (this.process && this.process.exitCode === null) {
      const exited = new Promise((resolve) => this.process!.once('exit', resolve));
      this.process.kill('SIGTERM');
      await exited;
    }
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}
