import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { runCli } from '../support/cli.js';
import { testKeys, type TestKey } from '../support/keys.js';
import { spawnService, type ServiceProcess } from '../support/processes.js';
import { eventually, freshNamespace, freshSchema, objectNames, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { makeVideo, mediaDir } from '../support/videos.js';

/**
 * The whole deletion of a completed job with artifacts, with the built services as OS processes and
 * `framewire delete`: its objects leave the bucket, JobDeleted is in the stream, every route of the job
 * answers 404, an admin still reads its events, and a replay of the stream agrees with the read model.
 */
describe('deleting a job, end to end', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let media: Awaited<ReturnType<typeof mediaDir>>;
  const services: ServiceProcess[] = [];
  let base = '';
  let acme: TestKey;
  let admin: TestKey;
  let cliEnv: Record<string, string> = {};

  const api = (path: string, key: TestKey | null, init: RequestInit = {}) => fetch(`${base}${path}`, { ...init, headers: { ...(key?.headers ?? {}), ...(init.headers ?? {}) } });
  const codeOf = async (res: Response) => ((await res.json()) as { error?: { code: string } }).error?.code;

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    media = await mediaDir();
    const keys = await testKeys(db.schema);
    [acme, admin] = await Promise.all([keys.create('acme'), keys.create('ops', true)]);
    await keys.close();
    const env = { NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace };
    const jobs = spawnService('jobs', 'jobs', env);
    const worker = spawnService('worker', 'worker', { ...env, WORKER_ID: 'deletion-worker' });
    const gateway = spawnService('gateway', 'gateway', { ...env, PORT: '0', HOST: '127.0.0.1' });
    services.push(jobs, worker, gateway);
    const port = JSON.parse(await gateway.waitForLine(/gateway listening/)).port as number;
    base = `http://127.0.0.1:${port}`;
    await Promise.all([jobs.waitForLine(/jobs service ready/), worker.waitForLine(/worker pulling jobs/)]);
    cliEnv = { ...env, FRAMEWIRE_URL: base };
  }, 120_000);

  afterAll(async () => {
    await Promise.all(services.map((s) => s.stop()));
    await ns?.cleanup();
    await db?.drop();
    await media?.cleanup();
  });

  it('deletes a completed job with artifacts: objects gone, JobDeleted stored, 404 everywhere, events for an admin, replay agrees', async () => {
    const video = await readFile(await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 2 }));
    const body = new FormData();
    body.set('pipeline', 'thumbnails');
    body.set('file', new Blob([video], { type: 'video/mp4' }), 'clip.mp4');
    const submitted = await api('/v1/jobs', acme, { method: 'POST', body });
    expect(submitted.status).toBe(202);
    const jobId = ((await submitted.json()) as { job_id: string }).job_id;
    const done = await eventually(async () => {
      const view = (await (await api(`/v1/jobs/${jobId}`, acme)).json()) as { status: string; artifacts: Array<{ name: string }> };
      return view.status === 'completed' ? view : undefined;
    }, 60_000, 'the job to complete');
    expect(done.artifacts.length).toBeGreaterThan(0);
    const mine = async () => (await objectNames(ns.nc, ns.subjects)).filter((name) => name.includes(jobId));
    expect((await mine()).length).toBeGreaterThan(done.artifacts.length);

    const run = await runCli(['delete', jobId, '--json'], { ...cliEnv, FRAMEWIRE_API_KEY: acme.key });
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(JSON.parse(run.stdout)).toMatchObject({ job_id: jobId, status: 'deleted', deleted_seq: expect.any(Number) });
    expect(await mine()).toEqual([]);

    // Every route of the job is the 404 of a job that never existed.
    for (const path of [`/v1/jobs/${jobId}`, `/v1/jobs/${jobId}?as_of=1`, `/v1/jobs/${jobId}/result`, `/v1/jobs/${jobId}/artifacts/${done.artifacts[0]!.name}`, `/v1/jobs/${jobId}/video`, `/v1/jobs/${jobId}/artifacts`, `/v1/jobs/${jobId}/stream`, `/v1/jobs/${jobId}/events`]) {
      const res = await api(path, acme);
      expect({ path, status: res.status, code: await codeOf(res) }).toEqual({ path, status: 404, code: 'JOB_NOT_FOUND' });
    }
    const links = await api(`/v1/jobs/${jobId}/media-links`, acme, { method: 'POST' });
    expect([links.status, await codeOf(links)]).toEqual([404, 'JOB_NOT_FOUND']);
    const again = await api(`/v1/jobs/${jobId}`, acme, { method: 'DELETE' });
    expect([again.status, await codeOf(again)]).toEqual([404, 'JOB_NOT_FOUND']);
    await eventually(async () => {
      const listed = (await (await api('/v1/jobs?limit=100', admin)).json()) as { jobs: Array<{ job_id: string }> };
      return listed.jobs.some((j) => j.job_id === jobId) ? undefined : true;
    }, 10_000, 'the job to leave the list');

    // An admin still reads what happened, the deletion included.
    const events = (await (await api(`/v1/jobs/${jobId}/events`, admin)).json()) as { events: Array<{ type: string; data: Record<string, unknown> }> };
    expect(events.events.at(-1)).toMatchObject({ type: 'JobDeleted', data: { reason: 'request', requestedBy: acme.keyId } });
    const cliEvents = await runCli(['events', jobId], cliEnv);
    expect(cliEvents.code).toBe(0);
    expect(cliEvents.stdout).toMatch(/JobDeleted.*deleted \(request\)/);

    // A rebuild from the stream agrees with the live read model, the tombstone row included.
    const verify = await runCli(['replay', '--verify'], cliEnv);
    expect(verify.stderr).toBe('');
    expect(verify.code).toBe(0);
    expect(verify.stdout).toMatch(/^verify: no drift/m);
  }, 120_000);
});
