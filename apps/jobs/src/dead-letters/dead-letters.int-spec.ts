import { randomUUID } from 'node:crypto';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { firstValueFrom } from 'rxjs';
import { JobQuery, type DeadLettersReply, type GetJobReply, type JobEvent } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { jobCompleted, jobStarted, videoSubmitted } from '../../../../test/support/events.js';
import { eventually, freshNamespace, freshSchema, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../../../../test/support/services.js';
import { jobsTestConfig, startJobsService } from '../../../../test/support/jobs-service.js';
import { DEAD_LETTER_CONSUMER } from './max-deliveries.consumer.js';

/**
 * Dead letters, with a real server's MAX_DELIVERIES advisories. A test consumer on the work subjects
 * plays a worker that dies on every delivery: it pulls the job and never settles it, so after
 * max_deliver deliveries the server gives up and publishes the advisory.
 */

/** The scope of an admin key: every tenant's jobs. */
const ADMIN = { kind: 'all' } as const;
describe('dead letters from MAX_DELIVERIES advisories', () => {
  const CRASHING_CONSUMER = 'crashing-workers';
  const MAX_DELIVER = 2;
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let client: ClientProxy;
  let app: INestMicroservice | null = null;

  async function startJobs(): Promise<void> {
    app = await startJobsService(jobsTestConfig(ns, db), ns.subjects);
    // listen() resolves before the server has seen the subscription; wait until a query gets a reply.
    await eventually(() => ask<GetJobReply>(JobQuery.Get, { job_id: randomUUID(), scope: ADMIN }).then(() => true, () => undefined), 10_000, 'the jobs service to answer');
  }

  async function stopJobs(): Promise<void> {
    await app?.close();
    app = null;
  }

  /** A worker that takes the job and dies, `times` times; the server redelivers after the 1 s ack wait. */
  async function crashOnEveryDelivery(times: number): Promise<number[]> {
    const consumer = await jetstream(ns.nc).consumers.get(ns.subjects.streamName, CRASHING_CONSUMER);
    const deliveries: number[] = [];
    while (deliveries.length < times) {
      const msg = await consumer.next({ expires: 3000 });
      if (msg) deliveries.push(msg.info.deliveryCount);
    }
    // The next worker asks for work: instead of a delivery past max_deliver, the server gives up on
    // the message and publishes the advisory (it checks when it would redeliver, so a pull must wait).
    expect(await consumer.next({ expires: 2500 })).toBeNull();
    return deliveries;
  }

  const types = async (jobId: string) => (await store.readJob(jobId)).map((i) => (i.ok ? i.stored.event.type : 'malformed'));
  const lastEvent = async (jobId: string): Promise<JobEvent | null> => {
    const items = await store.readJob(jobId);
    const last = items.at(-1);
    return last?.ok ? last.stored.event : null;
  };
  const ask = <T>(pattern: string, payload: unknown) => firstValueFrom(client.send<T>(ns.subjects.rpc(pattern), payload));

  beforeAll(async () => {
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [TEST_NATS_URL] } });
    await client.connect();
  });
  beforeEach(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    const jsm = await jetstreamManager(ns.nc);
    await jsm.consumers.add(ns.subjects.streamName, {
      durable_name: CRASHING_CONSUMER,
      filter_subject: ns.subjects.allSubmitted,
      ack_policy: AckPolicy.Explicit,
      ack_wait: 1_000_000_000,
      max_deliver: MAX_DELIVER,
    });
  });
  afterEach(async () => {
    await stopJobs();
    await ns.cleanup();
    await db.drop();
  });
  afterAll(() => client.close());

  it('turns the advisory into a final JobFailed MAX_DELIVERIES and a dead-letter entry, listed and rebuilt from events', async () => {
    await startJobs();
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const { seq: workSeq } = await store.append(submitted, 0);
    const started = jobStarted(submitted, 1, 'doomed-worker');
    await store.append(started, workSeq);

    expect(await crashOnEveryDelivery(MAX_DELIVER)).toEqual([1, 2]);
    const failed = await eventually(async () => {
      const last = await lastEvent(submitted.jobId);
      return last?.type === 'JobFailed' ? last : undefined;
    }, 20_000, 'the dead-letter JobFailed');
    expect(failed).toMatchObject({
      version: 3,
      causationId: started.eventId,
      correlationId: submitted.correlationId,
      data: {
        attempt: 1,
        final: true,
        error: { code: 'MAX_DELIVERIES' },
        deadLetter: { reason: 'MAX_DELIVERIES', consumer: CRASHING_CONSUMER, deliveries: MAX_DELIVER, streamSeq: workSeq },
      },
    });
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobFailed']);

    const view = await eventually(async () => {
      const reply = await ask<GetJobReply>(JobQuery.Get, { job_id: submitted.jobId, scope: ADMIN });
      return reply.ok && reply.value.job?.status === 'failed' ? reply.value.job : undefined;
    }, 20_000, 'the failed job in the read model');
    expect(view).toMatchObject({ error: { code: 'MAX_DELIVERIES' }, dead_letter: { deliveries: MAX_DELIVER, consumer: CRASHING_CONSUMER } });

    const listed = await eventually(async () => {
      const reply = await ask<DeadLettersReply>(JobQuery.DeadLetters, { scope: ADMIN });
      return reply.ok && reply.value.dead_letters.length === 1 ? reply.value : undefined;
    }, 20_000, 'the dead-letter list');
    // Another tenant's key sees none of the default tenant's dead letters; the owner's sees it.
    const foreign = await ask<DeadLettersReply>(JobQuery.DeadLetters, { scope: { kind: 'tenant', tenant: 'someone-else' } });
    expect(foreign.ok && foreign.value.dead_letters).toEqual([]);
    const own = await ask<DeadLettersReply>(JobQuery.DeadLetters, { scope: { kind: 'tenant', tenant: 'default' } });
    expect(own.ok && own.value.dead_letters.map((d) => d.job_id)).toEqual([submitted.jobId]);
    expect(listed.dead_letters[0]).toMatchObject({
      job_id: submitted.jobId,
      pipeline: 'noop',
      reason: 'MAX_DELIVERIES',
      attempts: 1,
      deliveries: MAX_DELIVER,
      stream_seq: workSeq,
      last_worker_id: 'doomed-worker',
      dead_lettered_at: failed.occurredAt,
    });
    expect(listed.next_cursor).toBeNull();

    // The entry is a projection: dropped with the read model, it comes back from the stream.
    await stopJobs();
    await db.query(`DROP SCHEMA "${db.schema}" CASCADE`);
    await startJobs();
    const rebuilt = await eventually(async () => {
      const reply = await ask<DeadLettersReply>(JobQuery.DeadLetters, { scope: ADMIN });
      return reply.ok && reply.value.dead_letters.length === 1 ? reply.value : undefined;
    }, 20_000, 'the rebuilt dead-letter list');
    expect(rebuilt).toEqual(listed);
  });

  it('keeps an advisory that fires while the jobs service is down, and handles it when it is back', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    await store.append(submitted, 0);
    await crashOnEveryDelivery(MAX_DELIVER);
    const jsm = await jetstreamManager(ns.nc);
    await eventually(async () => ((await jsm.streams.info(ns.subjects.advisoryStreamName)).state.messages === 1 ? true : undefined), 20_000, 'the captured advisory');
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted']);

    await startJobs();
    await eventually(async () => ((await lastEvent(submitted.jobId))?.type === 'JobFailed' ? true : undefined), 20_000, 'the dead letter');
    // No attempt ever started (the crash came before JobStarted): attempt 0.
    expect(await lastEvent(submitted.jobId)).toMatchObject({ data: { attempt: 0, final: true, error: { code: 'MAX_DELIVERIES' } } });
    // The advisory was acked, and so removed from the work-queue stream.
    await eventually(async () => ((await jsm.streams.info(ns.subjects.advisoryStreamName)).state.messages === 0 ? true : undefined), 20_000, 'the advisory to be acked');
    expect((await jsm.consumers.info(ns.subjects.advisoryStreamName, DEAD_LETTER_CONSUMER)).num_ack_pending).toBe(0);
  });

  it('adds nothing to a job that ended before its advisory was handled', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const s = await store.append(submitted, 0);
    const started = jobStarted(submitted);
    const { seq } = await store.append(started, s.seq);
    await crashOnEveryDelivery(MAX_DELIVER);
    // The attempt's worker was slow, not dead: it finished after the last delivery ran out.
    await store.append(jobCompleted(started), seq);

    await startJobs();
    const jsm = await jetstreamManager(ns.nc);
    await eventually(async () => ((await jsm.streams.info(ns.subjects.advisoryStreamName)).state.messages === 0 ? true : undefined), 20_000, 'the advisory to be handled');
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'JobCompleted']);
    const reply = await ask<DeadLettersReply>(JobQuery.DeadLetters, { scope: ADMIN });
    expect(reply.ok && reply.value.dead_letters).toEqual([]);
  });
});
