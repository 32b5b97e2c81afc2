import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { jetstreamManager } from '@nats-io/jetstream';
import { attemptOf, type JobEvent } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { runCli } from '../support/cli.js';
import { differingRows, readModel, replayInto } from '../support/read-model.js';
import { eventually, freshNamespace, freshSchema, TEST_DATABASE_URL, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../support/services.js';
import { TestSystem } from '../support/system.js';
import { flakyThenSlowFfprobe, makeVideo, mediaDir, slowFfprobe } from '../support/videos.js';

/** What the tests below share: a namespace and schema of their own, the jobs service and a gateway. */
async function setUp(workerEnv: Record<string, string>) {
  const ns = await freshNamespace();
  const db = await freshSchema();
  const media = await mediaDir();
  const system = new TestSystem({ NATS_URL: TEST_NATS_URL, DATABASE_URL: TEST_DATABASE_URL, DATABASE_SCHEMA: db.schema, FRAMEWIRE_NAMESPACE: ns.namespace, ...workerEnv });
  system.start('jobs', 'jobs');
  const base = await system.startGateway();
  await system.get('jobs').waitForLine(/jobs service ready/);
  await system.authenticate();
  const clip = await makeVideo(join(media.dir, 'clip.mp4'), { seconds: 0.4, width: 64, height: 48 });
  return { ns, db, media, system, base, clip, store: new EventStore(ns.nc, ns.subjects) };
}

async function tearDown(context: Partial<Awaited<ReturnType<typeof setUp>>>) {
  await context.system?.stopAll('SIGKILL');
  await context.ns?.cleanup();
  await context.db?.drop();
  await context.media?.cleanup();
}

const eventsOf = async (store: EventStore, jobId: string): Promise<JobEvent[]> =>
  (await store.readJob(jobId)).flatMap((item) => (item.ok ? [item.stored.event] : []));

/** Waits until the job's lifecycle holds a JobStarted of `attempt`. */
const startedAttempt = (store: EventStore, jobId: string, attempt: number) =>
  eventually(async () => {
    const started = (await eventsOf(store, jobId)).find((e) => e.type === 'JobStarted' && e.data.attempt === attempt);
    return started ?? undefined;
  }, 30_000, `attempt ${attempt} of ${jobId} to start`);

const submitted = async (system: TestSystem, base: string, clip: string) => {
  const res = await system.submitFile(base, clip);
  expect(res.status).toBe(202);
  return ((await res.json()) as { job_id: string }).job_id;
};

describe('graceful shutdown on SIGTERM', () => {
  let ctx: Awaited<ReturnType<typeof setUp>>;
  let holdTwoSeconds = '';
  let holdLong = '';

  beforeAll(async () => {
    ctx = await setUp({ WORKER_CONCURRENCY: '1' });
    holdTwoSeconds = await slowFfprobe(ctx.media.dir, 2);
    holdLong = await slowFfprobe(ctx.media.dir, 120);
  }, 60_000);
  afterAll(() => tearDown(ctx ?? {}));

  it('a worker stopped mid-job finishes it within its grace period, then exits 0', async () => {
    const { system, store, base, clip } = ctx;
    system.start('patient', 'worker', { WORKER_ID: 'patient', FFPROBE_PATH: holdTwoSeconds, WORKER_SHUTDOWN_GRACE_MS: '20000' });
    const jobId = await submitted(system, base, clip);
    await startedAttempt(store, jobId, 1);

    expect(await system.get('patient').stop('SIGTERM')).toBe(0);
    const events = await eventsOf(store, jobId);
    expect(events.map((e) => [e.type, 'attempt' in e.data ? e.data.attempt : null])).toEqual([
      ['VideoSubmitted', null],
      ['JobStarted', 1],
      ['JobCompleted', 1],
    ]);
  });

  it('a worker stopped past its grace period hands the job back, and another worker completes it as a new attempt', async () => {
    const { system, store, base, clip } = ctx;
    system.start('hasty', 'worker', { WORKER_ID: 'hasty', FFPROBE_PATH: holdLong, WORKER_SHUTDOWN_GRACE_MS: '300' });
    const jobId = await submitted(system, base, clip);
    await startedAttempt(store, jobId, 1);

    expect(await system.get('hasty').stop('SIGTERM')).toBe(0);
    expect(system.get('hasty').output()).toMatch(/handing running jobs back/);
    system.start('successor', 'worker', { WORKER_ID: 'successor' });
    const view = await eventually(async () => {
      const job = (await (await system.fetch(`${base}/v1/jobs/${jobId}`)).json()) as { status: string };
      return job.status === 'completed' ? job : undefined;
    }, 30_000, 'the job to complete on the other worker');
    expect(view).toMatchObject({ status: 'completed', attempts: 2, worker_id: 'successor' });
    const events = await eventsOf(store, jobId);
    expect(events.map((e) => [e.type, 'workerId' in e.data ? e.data.workerId : null, 'attempt' in e.data ? e.data.attempt : null])).toEqual([
      ['VideoSubmitted', null, null],
      ['JobStarted', 'hasty', 1],
      ['JobStarted', 'successor', 2],
      ['JobCompleted', null, 2],
    ]);
  });

  it('the gateway finishes an upload in flight before it exits 0', async () => {
    const { system, store, base, clip } = ctx;
    const boundary = 'framewire-test-boundary';
    const video = await readFile(clip);
    const half = Math.floor(video.length / 2);
    const encode = (text: string) => new TextEncoder().encode(text);
    const head = encode(`--${boundary}\r\nContent-Disposition: form-data; name="pipeline"\r\n\r\nnoop\r\n--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="slow.mp4"\r\nContent-Type: video/mp4\r\n\r\n`);
    const tail = encode(`\r\n--${boundary}--\r\n`);
    let push!: (chunk: Uint8Array | null) => void;
    const body = new ReadableStream<Uint8Array>({
      start(controller) {
        push = (chunk) => (chunk === null ? controller.close() : controller.enqueue(chunk));
      },
    });
    const response = system.fetch(`${base}/v1/jobs`, {
      method: 'POST',
      body,
      headers: { 'Content-Type': `multipart/form-data; boundary=${boundary}` },
      duplex: 'half',
    } as RequestInit);
    // The first half of a real MP4: the upload guard has seen a video container and storing has begun.
    push(head);
    push(video.subarray(0, half));
    await new Promise((resolve) => setTimeout(resolve, 300));

    const gateway = system.get('gateway');
    const exited = gateway.stop('SIGTERM');
    await gateway.waitForLine(/SIGTERM: shutting down/);
    push(video.subarray(half));
    push(tail);
    push(null);
    const res = await response;
    expect(res.status).toBe(202);
    const { job_id: jobId } = (await res.json()) as { job_id: string };
    expect(await exited).toBe(0);
    expect((await eventsOf(store, jobId)).map((e) => e.type)[0]).toBe('VideoSubmitted');
    await expect(system.fetch(`${base}/v1/jobs/${jobId}`)).rejects.toThrow();
  });

  it('the jobs service drains, and its replacement projects on from where it stopped', async () => {
    const { system, store, db } = ctx;
    expect(await system.get('jobs').stop('SIGTERM')).toBe(0);
    system.start('jobs-2', 'jobs');
    const last = await store.lastSeq();
    await eventually(async () => ((await readModel(TEST_DATABASE_URL, db.schema)).checkpoint >= last ? true : undefined), 30_000, 'the projection');
    await replayInto(store, TEST_DATABASE_URL, `${db.schema}_replay`);
    const live = await readModel(TEST_DATABASE_URL, db.schema);
    expect(live.rows).toHaveLength(3);
    expect(differingRows(live.rows, (await readModel(TEST_DATABASE_URL, `${db.schema}_replay`)).rows)).toEqual([]);
    await db.query(`DROP SCHEMA "${db.schema}_replay" CASCADE`);
  });
});

describe('dead letters from workers that crash on a job', () => {
  const MAX_DELIVER = 3;
  let ctx: Awaited<ReturnType<typeof setUp>>;
  let holdLong = '';

  beforeAll(async () => {
    ctx = await setUp({ WORKER_MAX_DELIVER: String(MAX_DELIVER), WORKER_ACK_WAIT_MS: '1000', WORKER_CONCURRENCY: '1' });
    holdLong = await slowFfprobe(ctx.media.dir, 120);
  }, 60_000);
  afterAll(() => tearDown(ctx ?? {}));

  it('SIGKILLs the worker in the middle of the job until max_deliver runs out; the job ends as a dead letter', async () => {
    const { system, store, base, clip } = ctx;
    const jobId = await submitted(system, base, clip);
    for (let attempt = 1; attempt <= MAX_DELIVER; attempt++) {
      const worker = system.start(`doomed-${attempt}`, 'worker', { WORKER_ID: `doomed-${attempt}`, FFPROBE_PATH: holdLong });
      await startedAttempt(store, jobId, attempt);
      expect(await worker.stop('SIGKILL')).toBe('SIGKILL');
    }
    // A healthy worker asks for work: the server does not deliver the job a fourth time, it gives up.
    system.start('healthy', 'worker', { WORKER_ID: 'healthy' });
    const failed = await eventually(async () => {
      const last = (await eventsOf(store, jobId)).at(-1);
      return last?.type === 'JobFailed' ? last : undefined;
    }, 30_000, 'the dead-letter JobFailed');
    expect(failed.data).toMatchObject({
      attempt: MAX_DELIVER,
      final: true,
      error: { code: 'MAX_DELIVERIES' },
      deadLetter: { reason: 'MAX_DELIVERIES', consumer: 'workers', deliveries: MAX_DELIVER },
    });
    expect((await eventsOf(store, jobId)).map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobStarted', 'JobStarted', 'JobFailed']);

    const list = await eventually(async () => {
      const page = (await (await system.fetch(`${base}/v1/dead-letters?limit=10`)).json()) as { dead_letters: Array<Record<string, unknown>>; next_cursor: string | null };
      return page.dead_letters.length === 1 ? page : undefined;
    }, 20_000, 'GET /v1/dead-letters to list the job');
    expect(list).toEqual({
      dead_letters: [
        expect.objectContaining({ job_id: jobId, reason: 'MAX_DELIVERIES', attempts: MAX_DELIVER, deliveries: MAX_DELIVER, consumer: 'workers', last_worker_id: `doomed-${MAX_DELIVER}`, error: expect.objectContaining({ code: 'MAX_DELIVERIES' }) }),
      ],
      next_cursor: null,
    });
    const job = (await (await system.fetch(`${base}/v1/jobs/${jobId}`)).json()) as Record<string, unknown>;
    expect(job).toMatchObject({ status: 'failed', error: { code: 'MAX_DELIVERIES' }, dead_letter: { deliveries: MAX_DELIVER } });
    const bad = await system.fetch(`${base}/v1/dead-letters?limit=0`);
    expect({ status: bad.status, body: await bad.json() }).toMatchObject({ status: 400, body: { error: { code: 'VALIDATION_FAILED' } } });

    // The operator's side, with the CLI as a process: list the dead letters, then redrive the job.
    const cli = { FRAMEWIRE_URL: base, FRAMEWIRE_API_KEY: system.authHeaders['Authorization']!.replace(/^Bearer /, '') };
    const dlq = await runCli(['dlq', 'list'], cli);
    expect(dlq.code).toBe(0);
    expect(dlq.stdout.split('\n')[0]).toMatch(/^JOB +TENANT +PIPELINE +ATTEMPTS +DELIVERIES +LAST WORKER +DEAD-LETTERED AT +ERROR$/);
    expect(dlq.stdout).toContain(jobId);
    const redrive = await runCli(['redrive', jobId, '--json'], cli);
    expect(redrive.code).toBe(0);
    expect(JSON.parse(redrive.stdout)).toMatchObject({ job_id: jobId, status: 'queued', attempt: MAX_DELIVER + 1, caused_by: failed.eventId });
    // The healthy worker runs it as a new attempt, and the job leaves the dead-letter list.
    const history = await eventually(async () => {
      const events = await eventsOf(store, jobId);
      return events.at(-1)?.type === 'JobCompleted' ? events : undefined;
    }, 30_000, 'the redriven job to complete');
    expect(history.slice(-3)).toMatchObject([
      { type: 'JobRedriven', causationId: failed.eventId, data: { firstAttempt: MAX_DELIVER + 1 } },
      { type: 'JobStarted', data: { attempt: MAX_DELIVER + 1, workerId: 'healthy' } },
      { type: 'JobCompleted', data: { attempt: MAX_DELIVER + 1 } },
    ]);
    expect(history[history.length - 2]!.causationId).toBe(history[history.length - 3]!.eventId);
    await eventually(async () => ((await runCli(['dlq', 'list', '--json'], cli)).stdout.includes('"dead_letters":[]') ? true : undefined), 20_000, 'the dead-letter list to empty');
    const again = await runCli(['redrive', jobId], cli);
    expect({ code: again.code, stderr: again.stderr }).toEqual({ code: 1, stderr: expect.stringContaining('JOB_NOT_RETRYABLE') });
  });

  it('keeps a long job alive with heartbeats, then cancels it with the CLI: its worker kills the tool and the job ends cancelled', async () => {
    const { system, store, base, clip } = ctx;
    // The healthy worker runs it, with an ffprobe that holds the job for 120 s.
    await system.get('healthy').stop();
    system.start('slow', 'worker', { WORKER_ID: 'slow', FFPROBE_PATH: holdLong });
    const jobId = await submitted(system, base, clip);
    await startedAttempt(store, jobId, 1);
    // Alive past three ack deadlines (WORKER_ACK_WAIT_MS 1000): its heartbeats keep the job from being redelivered.
    await new Promise((resolve) => setTimeout(resolve, 3500));
    expect((await eventsOf(store, jobId)).map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted']);
    const cli = { FRAMEWIRE_URL: base, FRAMEWIRE_API_KEY: system.authHeaders['Authorization']!.replace(/^Bearer /, '') };
    const cancel = await runCli(['cancel', jobId], cli);
    expect({ code: cancel.code, stdout: cancel.stdout }).toEqual({ code: 0, stdout: `job ${jobId} is being cancelled: its worker stops it\n` });
    const history = await eventually(async () => {
      const events = await eventsOf(store, jobId);
      return events.at(-1)?.type === 'JobCancelled' ? events : undefined;
    }, 20_000, 'the worker to cancel the job');
    expect(history.map((e) => e.type)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCancelRequested', 'JobCancelled']);
    expect(history[3]).toMatchObject({ data: { attempt: 1, cancelledBy: 'slow' } });
    const job = await eventually(async () => {
      const view = (await (await system.fetch(`${base}/v1/jobs/${jobId}`)).json()) as { status: string; cancel_requested_at: string | null };
      return view.status === 'cancelled' ? view : undefined;
    }, 20_000, 'the read model to show the job cancelled');
    expect(job.cancel_requested_at).toEqual(expect.any(String));
    // The attempt was stopped, not the worker.
    expect(system.alive('slow')).toBe(true);
    const ended = await runCli(['cancel', jobId], cli);
    expect({ code: ended.code, stderr: ended.stderr }).toEqual({ code: 1, stderr: expect.stringContaining('JOB_ALREADY_ENDED') });
  });
});

describe('a cancel and a retry during a retry backoff', () => {
  let ctx: Awaited<ReturnType<typeof setUp>>;

  beforeAll(async () => {
    ctx = await setUp({ WORKER_MAX_DELIVER: '5' });
  }, 60_000);
  afterAll(() => tearDown(ctx ?? {}));

  it('give exactly one running attempt, and the job completes: the old work message back from its backoff is acked and skipped', async () => {
    const { system, store, base, clip, media, ns } = ctx;
    // Three failed attempts (the third waits 2-4 s for its retry), then a redriven attempt that runs
    // for 6 s, long enough for the old message to come back from its backoff while it runs; two
    // slots, so that the old message finds a free one.
    const ffprobe = await flakyThenSlowFfprobe(media.dir, 3, 6);
    system.start('flaky', 'worker', { WORKER_ID: 'flaky', WORKER_CONCURRENCY: '2', FFPROBE_PATH: ffprobe });
    const jobId = await submitted(system, base, clip);
    const following = new AbortController();
    for await (const item of store.followJob(jobId, 0, following.signal)) {
      if (item.ok && item.stored.event.type === 'JobFailed' && item.stored.event.data.attempt === 3) break;
    }
    following.abort();
    const cancel = await system.fetch(`${base}/v1/jobs/${jobId}/cancel`, { method: 'POST' });
    expect({ status: cancel.status, body: await cancel.json() }).toMatchObject({ status: 202, body: { status: 'cancelled' } });
    const retry = await system.fetch(`${base}/v1/jobs/${jobId}/retry`, { method: 'POST' });
    expect({ status: retry.status, body: await retry.json() }).toMatchObject({ status: 202, body: { status: 'queued', attempt: 4 } });

    const events = await eventually(async () => {
      const all = await eventsOf(store, jobId);
      return all.at(-1)?.type === 'JobCompleted' ? all : undefined;
    }, 60_000, 'the redriven job to complete');
    const afterRedrive = events.slice(events.findIndex((e) => e.type === 'JobRedriven'));
    // A redrive belongs to the attempt before the one it starts.
    expect(afterRedrive.map((e) => [e.type, attemptOf(e)])).toEqual([
      ['JobRedriven', 3],
      ['JobStarted', 4],
      ['JobCompleted', 4],
    ]);
    // The old message came back while the redriven attempt ran, and was acked and skipped: nothing of the job is left to deliver.
    await system.get('flaky').waitForLine(/"reason":"stale"/);
    const jsm = await jetstreamManager(ns.nc);
    await eventually(async () => {
      const work = await jsm.consumers.info(ns.subjects.streamName, 'workers');
      return work.num_pending === 0 && work.num_ack_pending === 0 ? true : undefined;
    }, 20_000, 'the work consumer to settle');
  });
});
