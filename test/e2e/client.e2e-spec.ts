import { openAsBlob } from 'node:fs';
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { createFramewireClient, FramewireError, type FramewireClient, type JobUpdate } from '@framewire/client';
import { runCli } from '../support/cli.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { serviceStarter, type ServiceProcess } from '../support/processes.js';
import { freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { makeVideo, mediaDir, slowFfprobe } from '../support/videos.js';

/**
 * @framewire/client against the built gateway, jobs service and worker as processes: what an
 * integrator does with it (submit, wait, read the result), cancel and redrive, webhooks. The worker's
 * ffprobe holds each job a few seconds, so a job is still running when the test cancels it.
 */
describe('the typed client (@framewire/client) against the real gateway', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  let video = '';
  let client: FramewireClient;
  let base = '';
  let key: TestKey;
  const services = new Map<string, ServiceProcess>();
  const start = serviceStarter(() => ({ NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace }), services);

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    video = await makeVideo(join(media.dir, 'client-clip.mp4'), { seconds: 1 });
    const jobs = start('jobs', 'jobs', { WEBHOOK_ALLOW_HTTP: '1', WEBHOOK_ALLOW_PRIVATE_NETWORKS: '1' });
    const worker = start('worker', 'worker', { WORKER_ID: 'client-worker', FFPROBE_PATH: await slowFfprobe(media.dir, 4) });
    const gateway = start('gateway', 'gateway', { PORT: '0', HOST: '127.0.0.1' });
    const [listening] = await Promise.all([gateway.waitForLine(/gateway listening/), jobs.waitForLine(/jobs service ready/), worker.waitForLine(/worker pulling jobs/)]);
    const keys = await testKeys(db.schema);
    key = await keys.create('integrator');
    await keys.close();
    base = `http://127.0.0.1:${JSON.parse(listening).port}`;
    // A trailing slash, as a user may well write it.
    client = createFramewireClient({ baseUrl: `${base}/`, apiKey: key.key });
  }, 120_000);

  afterAll(async () => {
    await Promise.all([...services.values()].map((s) => s.stop()));
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('submits a file with upload progress, waits for the end through the live stream, and reads the result', async () => {
    const progress: Array<[number, number]> = [];
    const submitted = await client.submit(await openAsBlob(video, { type: 'video/mp4' }), { filename: 'client-clip.mp4', onProgress: (sent, total) => progress.push([sent, total]) });
    expect(submitted).toMatchObject({ status: 'queued', pipeline: 'probe' });
    const [sent, total] = progress.at(-1)!;
    expect(sent).toBe(total);
    expect(total).toBeGreaterThan((await stat(video)).size);

    const updates: JobUpdate[] = [];
    const job = await client.wait(submitted.job_id, { onUpdate: (update) => updates.push(update) });
    expect(job).toMatchObject({ job_id: submitted.job_id, status: 'completed' });
    expect(updates[0]?.kind).toBe('status');
    expect(updates.at(-1)?.kind).toBe('completed');
    // Each update a later point of the job's history: none repeated, none out of order.
    expect(updates.every((u, i) => i === 0 || u.seq > updates[i - 1]!.seq)).toBe(true);
    const result = await client.getResult(submitted.job_id);
    expect(result.tools['probe']?.summary).toBeDefined();

    const page = await client.listJobs({ status: 'completed', limit: 10 });
    expect(page.jobs.map((j) => j.job_id)).toContain(submitted.job_id);
  });

  it('cancels a running job, redrives it to completion, and reports refusals with the API\'s codes', async () => {
    const { job_id: jobId } = await client.submit(await openAsBlob(video, { type: 'video/mp4' }), { filename: 'cancel-me.mp4', priority: 'high' });
    for await (const update of client.follow(jobId)) {
      if (update.kind !== 'deleted' && update.data.status === 'running') break;
    }
    const cancelled = await client.cancel(jobId);
    expect(cancelled.job_id).toBe(jobId);
    expect(await client.wait(jobId)).toMatchObject({ status: 'cancelled' });
    await expect(client.cancel(jobId)).rejects.toMatchObject({ status: 409, code: 'JOB_ALREADY_ENDED' });

    const redriven = await client.redrive(jobId);
    expect(redriven.job_id).toBe(jobId);
    expect(await client.wait(jobId)).toMatchObject({ status: 'completed' });
    await expect(client.redrive(jobId)).rejects.toMatchObject({ status: 409, code: 'JOB_NOT_RETRYABLE' });
    await expect(client.getJob('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({ status: 404, code: 'JOB_NOT_FOUND' });
  });

  it('creates, lists and deletes a webhook endpoint', async () => {
    const created = await client.webhooks.create({ url: 'http://127.0.0.1:9/hook', events: ['job.completed'] });
    expect(created.secret).toMatch(/^whsec_/);
    expect((await client.webhooks.list()).map((w) => w.id)).toContain(created.id);
    expect(await client.webhooks.delete(created.id)).toEqual({ id: created.id, deleted: true });
    await expect(client.webhooks.get(created.id)).rejects.toBeInstanceOf(FramewireError);
  });

  it("is what the CLI's one-POST submit and --wait use", async () => {
    const run = await runCli(['submit', video, '--no-resumable', '--wait', '--json'], { FRAMEWIRE_URL: base, FRAMEWIRE_API_KEY: key.key });
    expect([run.code, run.stderr]).toEqual([0, '']);
    const job = JSON.parse(run.stdout) as { job_id: string; status: string };
    expect(job.status).toBe('completed');
    expect((await client.getJob(job.job_id)).status).toBe('completed');
  });

  it('says UNREACHABLE, naming the gateway, when nothing answers', async () => {
    const nowhere = createFramewireClient({ baseUrl: 'http://127.0.0.1:9' });
    await expect(nowhere.listJobs()).rejects.toMatchObject({ status: 0, code: 'UNREACHABLE', message: expect.stringContaining('http://127.0.0.1:9') });
  });
});
