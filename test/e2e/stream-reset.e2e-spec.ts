import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { jobSubjects } from '@app/contracts';
import { connectNats } from '@app/nats';
import { scratchDir, startNatsServer, type NatsServer } from '../support/servers.js';
import { eventually, freshName, freshSchema, TEST_DATABASE_URL, type TestSchema } from '../support/services.js';
import { TestSystem } from '../support/system.js';
import { makeVideo } from '../support/videos.js';

/**
 * NATS loses the event stream while PostgreSQL keeps the read model: the stream is deleted under the
 * running system, NATS loses all its data, or the system starts again on the same database and finds
 * a new stream (the reproduced case of issue #14). Each time the new stream's sequences start
 * below the read model's checkpoint; the built services, as processes, must notice and heal by
 * themselves: new uploads are accepted, worked on by the same worker, and listed by GET /v1/jobs.
 */
describe('the event stream reset under a running system', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let nats: NatsServer;
  let db: TestSchema;
  let system: TestSystem;
  let base = '';
  let clip = '';
  const namespace = freshName('r');
  const subjects = jobSubjects(namespace);
  let jobsName = 'jobs';

  const statusOf = async (jobId: string) => ((await (await system.fetch(`${base}/v1/jobs/${jobId}`)).json()) as { status?: string }).status;
  const listed = async () => ((await (await system.fetch(`${base}/v1/jobs?limit=100`)).json()) as { jobs: Array<{ job_id: string; status: string }> }).jobs;
  const mismatchLines = () => system.get(jobsName).output().split('\n').filter((l) => l.includes('"level":"error"') && l.includes('not the one the read model was projected from'));
  const jobsReady = async () => {
    const line = await system.get(jobsName).waitForLine(/ops listening/);
    return (await fetch(`http://127.0.0.1:${(JSON.parse(line) as { opsPort: number }).opsPort}/health/ready`)).status;
  };

  /**
   * Uploads a clip, again while the system heals (503), and resolves with the job id. Attempts are a
   * quarter of a second apart, well inside the gateway's rate limit, which a faster poll would reach.
   */
  async function upload(): Promise<string> {
    const deadline = Date.now() + 40_000;
    for (;;) {
      const res = await system.submitFile(base, clip, {}, {}, AbortSignal.timeout(10_000)).catch((error: unknown) => error as Error);
      if (!(res instanceof Error) && res.status === 202) return ((await res.json()) as { job_id: string }).job_id;
      if (Date.now() > deadline) {
        throw new Error(`no upload accepted within 40 s; the last answer: ${res instanceof Error ? res.message : `${res.status} ${await res.text()}`}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 250));
    }
  }

  /** Uploads `n` clips, then waits until each is completed and GET /v1/jobs lists it as completed. */
  async function jobsWorkedOnAndListed(n: number): Promise<string[]> {
    const ids: string[] = [];
    for (let i = 0; i < n; i++) ids.push(await upload());
    for (const id of ids) await eventually(async () => ((await statusOf(id)) === 'completed' ? true : undefined), 40_000, `job ${id} to complete`);
    await eventually(async () => {
      const jobs = await listed();
      return ids.every((id) => jobs.some((j) => j.job_id === id && j.status === 'completed')) ? true : undefined;
    }, 30_000, `the jobs ${ids.join(', ')} listed as completed`);
    return ids;
  }

  beforeAll(async () => {
    scratch = await scratchDir('framewire-stream-reset-');
    nats = await startNatsServer({ storeDir: join(scratch.dir, 'nats') });
    db = await freshSchema();
    clip = await makeVideo(join(scratch.dir, 'clip.mp4'), { seconds: 0.4, width: 64, height: 48 });
    system = new TestSystem({ NATS_URL: nats.url, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: namespace });
    system.start('jobs', 'jobs');
    system.start('worker', 'worker', { WORKER_CONCURRENCY: '1' });
    base = await system.startGateway();
    await Promise.all([system.get('jobs').waitForLine(/jobs service ready/), system.get('worker').waitForLine(/worker pulling jobs/)]);
    await system.authenticate();
  }, 60_000);

  afterAll(async () => {
    await system?.stopAll();
    await nats?.stop('SIGKILL');
    await db?.drop();
    await scratch?.cleanup();
  });

  it('heals when the stream is deleted under it: new jobs are accepted, worked on and listed', async () => {
    const before = await jobsWorkedOnAndListed(3);
    const nc = await connectNats(nats.url, 'stream-reset-test');
    await (await jetstreamManager(nc)).streams.delete(subjects.streamName);
    await nc.close();

    const after = await jobsWorkedOnAndListed(2);
    // The list is the new stream's: the jobs of the lost one are in the previous model only.
    expect((await listed()).map((j) => j.job_id).sort()).toEqual([...after].sort());
    expect(before.some((id) => after.includes(id))).toBe(false);
    expect(mismatchLines()).toHaveLength(1);
    expect(await jobsReady()).toBe(200);
    expect(['jobs', 'worker', 'gateway'].filter((name) => !system.alive(name))).toEqual([]);
  }, 150_000);

  it('heals when NATS loses all its data under it', async () => {
    await nats.stop('SIGKILL');
    await rm(join(scratch.dir, 'nats'), { recursive: true, force: true });
    await nats.start();

    const after = await jobsWorkedOnAndListed(2);
    expect((await listed()).map((j) => j.job_id).sort()).toEqual([...after].sort());
    expect(mismatchLines()).toHaveLength(2);
    expect(await jobsReady()).toBe(200);
    expect(['jobs', 'worker', 'gateway'].filter((name) => !system.alive(name))).toEqual([]);
  }, 150_000);

  it('notices a new stream when the system starts again on the same database (the reproduced case)', async () => {
    // As reported: jobs done, the system stopped, the namespace's event stream deleted, the system
    // started again on the same database; new jobs completed but never appeared in GET /v1/jobs.
    const before = await jobsWorkedOnAndListed(3);
    await system.stopAll();
    const nc = await connectNats(nats.url, 'stream-reset-test');
    await (await jetstreamManager(nc)).streams.delete(subjects.streamName);
    await nc.close();

    jobsName = 'jobs-again';
    system.start(jobsName, 'jobs');
    system.start('worker-again', 'worker', { WORKER_CONCURRENCY: '1' });
    await system.get(jobsName).waitForLine(/jobs service ready/);
    base = await system.startGateway('gateway-again');
    const after = await jobsWorkedOnAndListed(3);
    expect((await listed()).map((j) => j.job_id).sort()).toEqual([...after].sort());
    expect(before.some((id) => after.includes(id))).toBe(false);
    expect(mismatchLines()).toHaveLength(1);
    expect(await jobsReady()).toBe(200);
    expect([jobsName, 'worker-again', 'gateway-again'].filter((name) => !system.alive(name))).toEqual([]);
  }, 150_000);
});
