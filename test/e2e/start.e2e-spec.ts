import { chmod, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { freeTcpPort, spawnCli, type ServiceProcess } from '../support/processes.js';
import { eventually } from '../support/services.js';
import { makeVideo, mediaDir } from '../support/videos.js';

/**
 * `framewire start` on a machine with nothing running: it starts nats-server from PATH and an
 * embedded PostgreSQL under its data directory, then the services. (--local-services forces that
 * path here, where a NATS and a PostgreSQL are already running.) A second start on the same data
 * directory finds the jobs of the first.
 */
describe('framewire start with its own NATS and PostgreSQL', () => {
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let running: ServiceProcess | null = null;
  let port = 0;
  const base = () => `http://127.0.0.1:${port}`;

  async function startSystem(): Promise<ServiceProcess> {
    port = await freeTcpPort();
    const cli = spawnCli('framewire start', ['start', '--local-services', '--data-dir', join(media.dir, 'data'), '--port', String(port)], {
      LOG_LEVEL: 'warn',
    });
    running = cli;
    await cli.waitForLine(/gateway: http/, 60_000);
    await eventually(async () => ((await fetch(`${base()}/v1/jobs?limit=1`).catch(() => null))?.ok ? true : undefined), 60_000, 'the gateway');
    return cli;
  }

  beforeAll(async () => {
    media = await mediaDir();
    // As root, the embedded PostgreSQL runs as the postgres user, which must be able to reach its directory.
    await chmod(media.dir, 0o755);
  });
  afterAll(async () => {
    await running?.stop('SIGTERM');
    await media?.cleanup();
  });

  it('runs a job, stops cleanly, and keeps it across a restart', async () => {
    const first = await startSystem();
    expect(first.output()).toMatch(/starting nats-server from PATH/);
    expect(first.output()).toMatch(/embedded PostgreSQL at postgres:\/\/framewire:\*\*\*@127\.0\.0\.1/);
    // Every process has its own ops listener, printed at start, that answers.
    const opsLine = /ops \(\/metrics, \/health\/ready\): (.+)/.exec(first.output())![1]!;
    const opsUrls = [...opsLine.matchAll(/(jobs|worker-\d+) (http:\/\/\S+?)(?:,|$)/g)].map((m) => m[2]!);
    expect(opsUrls).toHaveLength(2);
    for (const url of opsUrls) expect((await eventually(async () => (await fetch(`${url}/health/ready`).catch(() => null))?.status === 200 || undefined, 30_000, url))).toBe(true);

    const video = await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 1 });
    const form = new FormData();
    form.set('file', new Blob([await readFile(video)], { type: 'video/mp4' }), 'clip.mp4');
    const res = await fetch(`${base()}/v1/jobs`, { method: 'POST', body: form });
    expect(res.status).toBe(202);
    const { job_id: jobId } = (await res.json()) as { job_id: string };
    const done = await eventually(async () => {
      const view = (await (await fetch(`${base()}/v1/jobs/${jobId}`)).json()) as { status: string; result: { tools: { probe: { data: { width: number } } } } };
      return view.status === 'completed' ? view : undefined;
    }, 60_000, 'the job to complete');
    expect(done.result.tools.probe.data.width).toBe(320);

    expect(await first.stop('SIGTERM')).toBe(0);
    expect(first.output()).toMatch(/\[framewire\] stopped/);
    running = null;

    const second = await startSystem();
    expect(second.output()).not.toMatch(/initialising an embedded PostgreSQL cluster/);
    const again = (await (await fetch(`${base()}/v1/jobs/${jobId}`)).json()) as { status: string };
    expect(again.status).toBe('completed');
    expect(await second.stop('SIGTERM')).toBe(0);
    running = null;
  }, 240_000);
});
