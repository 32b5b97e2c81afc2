import { readFile } from 'node:fs/promises';
import { request } from 'node:http';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import pg from 'pg';
import { jobSubjects } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { connectNats, type NatsConnection } from '@app/nats';
import { PROJECTOR_CONSUMER } from '../../apps/jobs/src/projection/job.projector.js';
import { jobCompleted, jobStarted, videoSubmitted } from '../support/events.js';
import { differingRows, readModel, replayInto } from '../support/read-model.js';
import { scratchDir, startNatsServer, startPostgres, type NatsServer, type PostgresServer } from '../support/servers.js';
import { eventually, freshName, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { TestSystem } from '../support/system.js';
import { makeVideo } from '../support/videos.js';

/**
 * Outages, with the built services as processes and servers that the test itself stops and starts.
 * Nothing is restarted by a supervisor here: every service must come through on its own.
 */
describe('NATS outage', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let nats: NatsServer;
  let db: TestSchema;
  let system: TestSystem;
  let base = '';
  let clip = '';
  let longClip = '';
  const namespace = freshName('o');
  const subjects = jobSubjects(namespace);

  /** A request that must be answered well before the gateway's 30 s RPC timeout. */
  const quickly = () => AbortSignal.timeout(10_000);
  const status = async (jobId: string) => ((await (await system.fetch(`${base}/v1/jobs/${jobId}`)).json()) as { status?: string }).status;

  beforeAll(async () => {
    scratch = await scratchDir('framewire-nats-outage-');
    nats = await startNatsServer({ storeDir: join(scratch.dir, 'nats') });
    db = await freshSchema();
    clip = await makeVideo(join(scratch.dir, 'clip.mp4'), { seconds: 0.4, width: 64, height: 48 });
    longClip = await makeVideo(join(scratch.dir, 'long.mp4'), { seconds: 4 });
    system = new TestSystem({ NATS_URL: nats.url, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: namespace });
    system.start('jobs', 'jobs');
    system.start('worker', 'worker', { WORKER_CONCURRENCY: '1' });
    base = await system.startGateway('gateway', { RPC_TIMEOUT_MS: '30000' });
    await Promise.all([system.get('jobs').waitForLine(/jobs service ready/), system.get('worker').waitForLine(/worker pulling jobs/)]);
    await system.authenticate();
  }, 60_000);

  afterAll(async () => {
    await system?.stopAll();
    await nats?.stop('SIGKILL');
    await db?.drop();
    await scratch?.cleanup();
  });

  it('answers 503 JSON at once while NATS is down, and every service reconnects by itself', async () => {
    const before = await system.submitFile(base, clip);
    expect(before.status).toBe(202);
    const { job_id: first } = (await before.json()) as { job_id: string };
    await eventually(async () => ((await status(first)) === 'completed' ? true : undefined), 30_000, 'the first job');

    // An upload whose first bytes are in (past the media check, being stored) when NATS dies.
    const held = heldUpload(`${base}/v1/jobs`, await readFile(longClip), system.authHeaders);
    await held.sent;
    await new Promise((resolve) => setTimeout(resolve, 300));
    await nats.stop('SIGKILL');
    const answered = await Promise.race([held.response, new Promise<null>((resolve) => setTimeout(() => resolve(null), 10_000))]);
    held.abandon();
    expect(answered).toEqual({ status: 503, body: { error: { code: 'SERVICE_UNAVAILABLE', message: expect.stringMatching(/NATS became unreachable during the upload/) } }, retryAfter: '1' });

    const requests: Array<[string, () => Promise<Response>]> = [
      ['an upload', () => system.submitFile(base, clip, {}, {}, quickly())],
      ['a job', () => system.fetch(`${base}/v1/jobs/${first}`, { signal: quickly() })],
      ['the job list', () => system.fetch(`${base}/v1/jobs`, { signal: quickly() })],
      ["a job's events", () => system.fetch(`${base}/v1/jobs/${first}/events`, { signal: quickly() })],
      ['the dead letters', () => system.fetch(`${base}/v1/dead-letters`, { signal: quickly() })],
    ];
    for (const [what, request] of requests) {
      const res = await eventually(async () => {
        const answer = await request();
        return answer.status === 503 ? answer : undefined;
      }, 10_000, `503 for ${what}`);
      expect({ what, body: await res.json(), retryAfter: res.headers.get('retry-after') }).toEqual({
        what,
        body: { error: { code: 'SERVICE_UNAVAILABLE', message: expect.any(String) } },
        retryAfter: '1',
      });
    }

    await nats.start();
    // The same processes, reconnected: a new upload is accepted, worked on and projected.
    const after = await eventually(async () => {
      const res = await system.submitFile(base, clip);
      return res.status === 202 ? ((await res.json()) as { job_id: string }) : undefined;
    }, 30_000, 'an upload to be accepted again');
    await eventually(async () => ((await status(after.job_id)) === 'completed' ? true : undefined), 30_000, 'the job after the outage');
    expect(await status(first)).toBe('completed');
    expect(['jobs', 'worker', 'gateway'].filter((name) => !system.alive(name))).toEqual([]);

    // The upload refused during the outage left no job behind.
    const nc = await connectNats(nats.url, 'outage-check');
    const jsm = await jetstreamManager(nc);
    expect((await jsm.streams.info(subjects.streamName, { subjects_filter: subjects.allSubmitted })).state.subjects).toEqual({
      [subjects.submitted(first, 'normal')]: 1,
      [subjects.submitted(after.job_id, 'normal')]: 1,
    });
    await nc.close();
  }, 120_000);
});

/**
 * A multipart upload of `video` that sends its first quarter and holds the rest back: an upload in
 * flight. `response` resolves with the status and JSON body whenever the server answers, even before
 * the body is complete; `abandon` closes the connection.
 */
function heldUpload(url: string, video: Buffer, headers: Record<string, string>) {
  const boundary = `held-${Date.now()}`;
  const req = request(url, { method: 'POST', headers: { ...headers, 'content-type': `multipart/form-data; boundary=${boundary}` } });
  const response = new Promise<{ status: number; body: unknown; retryAfter: string | undefined }>((resolve, reject) => {
    req.on('response', (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (chunk: Buffer) => chunks.push(chunk));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString()) as unknown, retryAfter: res.headers['retry-after'] as string | undefined }));
    });
    req.on('error', reject);
  });
  // The server may close the connection after its answer, before the rest of the body is sent.
  response.catch(() => undefined);
  const head = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="long.mp4"\r\nContent-Type: video/mp4\r\n\r\n`;
  const quarter = Math.floor(video.length / 4);
  const sent = new Promise<void>((resolve) => req.write(Buffer.concat([Buffer.from(head), video.subarray(0, quarter)]), () => resolve()));
  return {
    response,
    sent,
    abandon: () => void req.destroy(),
  };
}

describe('PostgreSQL outage', () => {
  let scratch: Awaited<ReturnType<typeof scratchDir>>;
  let postgres: PostgresServer;
  let ns: TestNamespace;
  let store: EventStore;
  let system: TestSystem;

  /** Appends `n` whole jobs (submitted, started, completed); resolves with the last sequence. */
  async function appendJobs(n: number): Promise<number> {
    let last = 0;
    for (let i = 0; i < n; i++) {
      const submitted = videoSubmitted();
      const s = await store.append(submitted, 0);
      const started = jobStarted(submitted);
      const { seq } = await store.append(started, s.seq);
      last = (await store.append(jobCompleted(started), seq)).seq;
    }
    return last;
  }
  const projected = async (seq: number) => ((await readModel(postgres.url, 'public').catch(() => null))?.checkpoint ?? 0) >= seq;

  beforeAll(async () => {
    scratch = await scratchDir('framewire-pg-outage-');
    postgres = await startPostgres(scratch.dir);
    ns = await freshNamespace();
    store = new EventStore(ns.nc, ns.subjects);
    system = new TestSystem({ NATS_URL: TEST_NATS_URL, DATABASE_URL: postgres.url, FRAMEWIRE_NAMESPACE: ns.namespace, PROJECTOR_BATCH_SIZE: '20' });
    await system.start('jobs', 'jobs').waitForLine(/jobs service ready/);
  }, 60_000);

  afterAll(async () => {
    await system?.stopAll();
    await postgres?.stop().catch(() => undefined);
    await ns?.cleanup();
    await scratch?.cleanup();
  });

  it('pauses the projector without acking while PostgreSQL is down, then resumes with nothing lost', async () => {
    const beforeOutage = await appendJobs(10);
    await eventually(async () => ((await projected(beforeOutage)) ? true : undefined), 20_000, 'the projection before the outage');

    await postgres.crash();
    const lastSeq = await appendJobs(10);
    const jobs = system.get('jobs');
    await jobs.waitForLine(/projection paused/, 20_000);
    // Nothing past what PostgreSQL committed is acknowledged: those events are still owed to the projector.
    const jsm = await jetstreamManager(ns.nc);
    const held = await jsm.consumers.info(ns.subjects.streamName, PROJECTOR_CONSUMER);
    expect(held.ack_floor.stream_seq).toBeLessThanOrEqual(beforeOutage);

    await postgres.start();
    await eventually(async () => ((await projected(lastSeq)) ? true : undefined), 30_000, 'the projection to resume');
    expect(system.alive('jobs')).toBe(true);

    // The read model equals a fresh replay of the stream, row for row.
    await replayInto(store, postgres.url, 'replay');
    const live = await readModel(postgres.url, 'public');
    const replay = await readModel(postgres.url, 'replay');
    expect(live.rows).toHaveLength(20);
    expect(differingRows(live.rows, replay.rows)).toEqual([]);
    expect(live.checkpoint).toBe(lastSeq);
    // A crashed PostgreSQL is not the events' fault: nothing was parked.
    const client = new pg.Client({ connectionString: postgres.url });
    await client.connect();
    try {
      expect((await client.query('SELECT seq FROM public.parked_events')).rows).toEqual([]);
    } finally {
      await client.end();
    }
  }, 120_000);
});
