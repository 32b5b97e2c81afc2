import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { INestMicroservice } from '@nestjs/common';
import { ClientProxyFactory, Transport, type ClientProxy } from '@nestjs/microservices';
import { firstValueFrom } from 'rxjs';
import { JobCommand, JobQuery, type GetJobReply, type RpcReply } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { jobStarted, publishAsNewerRelease, videoSubmitted } from '../../../../test/support/events.js';
import { jobsTestConfig, startJobsService } from '../../../../test/support/jobs-service.js';
import { eventually, freshNamespace, freshSchema, TEST_NATS_URL, type TestNamespace, type TestSchema } from '../../../../test/support/services.js';

const ADMIN = { kind: 'all' } as const;

/** Cancel, redrive and delete over request/reply, on job histories the test writes itself. */
describe('job commands against NATS and PostgreSQL', () => {
  let ns: TestNamespace;
  let db: TestSchema;
  let store: EventStore;
  let client: ClientProxy;
  let app: INestMicroservice;

  const ask = <T>(pattern: string, payload: unknown) => firstValueFrom(client.send<RpcReply<T>>(ns.subjects.rpc(pattern), payload));
  const types = async (jobId: string) => (await store.readJob(jobId)).map((item) => (item.ok ? item.stored.event.type : 'malformed'));

  beforeAll(async () => {
    ns = await freshNamespace();
    db = await freshSchema();
    store = new EventStore(ns.nc, ns.subjects);
    client = ClientProxyFactory.create({ transport: Transport.NATS, options: { servers: [TEST_NATS_URL] } });
    await client.connect();
    app = await startJobsService(jobsTestConfig(ns, db), ns.subjects);
    await eventually(() => ask<GetJobReply>(JobQuery.Get, { job_id: randomUUID(), scope: ADMIN }).then(() => true, () => undefined), 10_000, 'the jobs service to answer');
  });
  afterAll(async () => {
    await app?.close();
    client?.close();
    await ns.cleanup();
    await db.drop();
  });

  it('refuses to cancel, redrive or delete a job whose last lifecycle event it cannot read, and appends nothing', async () => {
    const submitted = videoSubmitted(undefined, { pipeline: 'noop' });
    const s = await store.append(submitted, 0);
    const started = jobStarted(submitted, 1, 'newer-worker');
    const { seq } = await store.append(started, s.seq);
    // A newer release ended the job with an event this one does not know (a rolling upgrade).
    await publishAsNewerRelease(ns.nc, ns.subjects.lifecycle(submitted.jobId), started, seq, 'JobArchived');

    const request = { job_id: submitted.jobId, scope: ADMIN, requested_by: 'key_test' };
    for (const [pattern, payload] of [
      [JobCommand.Cancel, { ...request, reason: null }],
      [JobCommand.Redrive, request],
      [JobCommand.Delete, request],
    ] as const) {
      const reply = await ask<unknown>(pattern, payload);
      expect(reply).toMatchObject({ ok: false, error: { code: 'JOB_HISTORY_UNREADABLE' } });
    }
    expect(await types(submitted.jobId)).toEqual(['VideoSubmitted', 'JobStarted', 'malformed']);
  });
});
