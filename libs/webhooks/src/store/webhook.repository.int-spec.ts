import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import type { DataSource } from 'typeorm';
import type { WebhookEventType } from '@app/contracts';
import { freshSchema, type TestSchema } from '../../../../test/support/services.js';
import { InvalidDeliveryCursorError, WebhookRepository, type NewDelivery } from './webhook.repository.js';
import { openWebhookStore } from './webhook-store.js';

const ALL = { kind: 'all' } as const;
const NO_BUSY = new Map<string, number>();
const LEASE = { leaseMs: 60_000, perEndpoint: 8 };
const STREAM = '2026-12-05T10:00:00Z';

describe('WebhookRepository (PostgreSQL)', () => {
  let db: TestSchema;
  let ds: DataSource;
  let repo: WebhookRepository;

  beforeAll(async () => {
    db = await freshSchema();
    ds = await openWebhookStore({ url: db.url, schema: `${db.schema}_webhooks`, poolSize: 4 });
    repo = new WebhookRepository(ds);
  });

  afterAll(async () => {
    await ds.destroy();
    await db.drop();
  });

  const endpoint = (tenant = 'acme', events: WebhookEventType[] = ['job.started', 'job.completed']) =>
    repo.createEndpoint({ id: randomUUID(), tenant, url: 'https://example.com/hook', events, description: '', secret: 'whsec_a', from: { seq: 0, stream: STREAM } });

  const delivery = (endpointId: string, jobId: string, streamSeq: number, eventType: WebhookEventType = 'job.completed'): NewDelivery => ({
    id: randomUUID(),
    endpointId,
    eventId: randomUUID(),
    eventType,
    jobId,
    streamSeq,
    occurredAt: new Date(),
    body: `{"seq":${streamSeq}}`,
  });

  /** Claims everything due now for the endpoints in `only` (other tests' endpoints share the schema). */
  const claim = async (only: string[], options: { limit?: number; perEndpoint?: number; leaseMs?: number; busy?: Map<string, number>; fullTenants?: string[] } = {}) =>
    (
      await repo.claimDue({
        limit: options.limit ?? 100,
        perEndpoint: options.perEndpoint ?? LEASE.perEndpoint,
        leaseMs: options.leaseMs ?? LEASE.leaseMs,
        busy: options.busy ?? NO_BUSY,
        fullTenants: options.fullTenants ?? [],
      })
    ).filter((d) =>
      only.includes(d.endpointId),
    );

  it('stores one delivery per endpoint and event, however often the fan-out records it', async () => {
    const e = await endpoint();
    const d = delivery(e.id, randomUUID(), 5);
    expect(await repo.addDeliveries([d])).toBe(1);
    expect(await repo.addDeliveries([{ ...d, id: randomUUID() }])).toBe(0);
    const page = await repo.deliveriesPage(e.id, 10, undefined);
    expect(page.deliveries.map((x) => x.id)).toEqual([d.id]);
  });

  it("hands out a job's deliveries to one endpoint one at a time, in stream order", async () => {
    const e = await endpoint();
    const job = randomUUID();
    const later = delivery(e.id, job, 9);
    const earlier = delivery(e.id, job, 4, 'job.started');
    await repo.addDeliveries([later]);
    await repo.addDeliveries([earlier]);
    const first = await claim([e.id]);
    expect(first.map((d) => d.id)).toEqual([earlier.id]);
    expect(await claim([e.id])).toEqual([]);
    await repo.recordAttempt(first[0]!, { kind: 'delivered', status: 200 }, 60_000);
    expect((await claim([e.id])).map((d) => d.id)).toEqual([later.id]);
  });

  it('caps what one endpoint gets per claim, counting what is in flight, and serves every endpoint in turn', async () => {
    const busy = await endpoint();
    const quiet = await endpoint();
    await repo.addDeliveries(Array.from({ length: 6 }, (_, i) => delivery(busy.id, randomUUID(), 100 + i)));
    await repo.addDeliveries([delivery(quiet.id, randomUUID(), 200)]);
    const claimed = await claim([busy.id, quiet.id], { perEndpoint: 3, busy: new Map([[busy.id, 1]]) });
    expect(claimed.filter((d) => d.endpointId === busy.id)).toHaveLength(2);
    expect(claimed.filter((d) => d.endpointId === quiet.id)).toHaveLength(1);
  });

  it('gives nothing of a tenant whose share is in flight', async () => {
    const full = await endpoint('full-tenant');
    await repo.addDeliveries([delivery(full.id, randomUUID(), 250)]);
    expect(await claim([full.id], { fullTenants: ['full-tenant'] })).toEqual([]);
    expect((await claim([full.id], { fullTenants: ['other'] })).map((d) => d.tenant)).toEqual(['full-tenant']);
  });

  it('never gives one delivery to two claimers at once, and gives it again once its lease ends', async () => {
    const e = await endpoint();
    await repo.addDeliveries(Array.from({ length: 20 }, (_, i) => delivery(e.id, randomUUID(), 300 + i)));
    const [a, b] = await Promise.all([claim([e.id], { perEndpoint: 20, leaseMs: 300 }), claim([e.id], { perEndpoint: 20, leaseMs: 300 })]);
    const ids = [...a, ...b].map((d) => d.id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids).toHaveLength(20);
    expect(await claim([e.id], { perEndpoint: 20 })).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 400));
    expect(await claim([e.id], { perEndpoint: 20 })).toHaveLength(20);
  });

  it('retries later, ends a failure streak on success, and disables an endpoint whose streak outlasts the limit', async () => {
    const e = await endpoint();
    await repo.addDeliveries([delivery(e.id, randomUUID(), 400), delivery(e.id, randomUUID(), 401)]);
    const [d1, d2] = await claim([e.id]);
    const soon = new Date(Date.now() + 50);
    expect(await repo.recordAttempt(d1!, { kind: 'retry', status: 503, error: 'HTTP 503', nextAttemptAt: soon }, 60_000)).toEqual({ disabled: null });
    const failing = await repo.getEndpoint(e.id, ALL);
    expect(failing?.failingSince).toBeInstanceOf(Date);
    await new Promise((resolve) => setTimeout(resolve, 100));
    // The streak began over 100 ms ago: a limit of 50 ms disables the endpoint, with a reason.
    const outcome = await repo.recordAttempt(d2!, { kind: 'failed', status: 404, error: 'HTTP 404' }, 50);
    expect(outcome.disabled).toMatch(/every delivery since .* failed \(last: HTTP 404\)/);
    const disabled = await repo.getEndpoint(e.id, ALL);
    expect(disabled).toMatchObject({ enabled: false });
    // A disabled endpoint's deliveries wait: d1 is due, but not handed out.
    expect(await claim([e.id])).toEqual([]);
    const enabled = await repo.updateEndpoint(e.id, ALL, { enabled: true }, null);
    expect(enabled).toMatchObject({ enabled: true, disabledReason: null, failingSince: null });
    const [again] = await claim([e.id]);
    expect(again?.id).toBe(d1!.id);
    expect(again?.attempts).toBe(1);
    await repo.recordAttempt(again!, { kind: 'delivered', status: 204 }, 50);
    const page = await repo.deliveriesPage(e.id, 10, undefined);
    expect(page.deliveries.find((d) => d.id === d1!.id)).toMatchObject({ status: 'delivered', attempts: 2, lastStatusCode: 204, lastError: null });
    expect(page.deliveries.find((d) => d.id === d2!.id)).toMatchObject({ status: 'failed', lastStatusCode: 404, lastError: 'HTTP 404' });
  });

  it('signs with the old secret beside the new one until the grace ends', async () => {
    const e = await endpoint();
    await repo.rotateSecret(e.id, ALL, 'whsec_b', 60_000);
    await repo.addDeliveries([delivery(e.id, randomUUID(), 500)]);
    const [d] = await claim([e.id]);
    expect(d?.secrets).toEqual(['whsec_b', 'whsec_a']);
    await repo.releaseLease(d!.id);
    await repo.rotateSecret(e.id, ALL, 'whsec_c', 0);
    const [again] = await claim([e.id]);
    expect(again?.secrets).toEqual(['whsec_c']);
  });

  it('keeps a tenant to its own endpoints', async () => {
    const mine = await endpoint('tenant-a');
    expect(await repo.getEndpoint(mine.id, { kind: 'tenant', tenant: 'tenant-b' })).toBeNull();
    expect(await repo.deleteEndpoint(mine.id, { kind: 'tenant', tenant: 'tenant-b' })).toBe(false);
    expect(await repo.updateEndpoint(mine.id, { kind: 'tenant', tenant: 'tenant-b' }, { enabled: false }, null)).toBeNull();
    expect((await repo.listEndpoints({ kind: 'tenant', tenant: 'tenant-b' })).map((x) => x.id)).not.toContain(mine.id);
    expect((await repo.endpointsHearing('tenant-b', 'job.completed', { seq: 10, stream: STREAM })).map((x) => x.id)).not.toContain(mine.id);
    expect((await repo.endpointsHearing('tenant-a', 'job.completed', { seq: 10, stream: STREAM })).map((x) => x.id)).toContain(mine.id);
    expect((await repo.endpointsHearing('tenant-a', 'job.failed', { seq: 10, stream: STREAM })).map((x) => x.id)).not.toContain(mine.id);
  });

  it('hears an event only past its watermark, unless the stream was made again (its numbers start over)', async () => {
    const e = await repo.createEndpoint({ id: randomUUID(), tenant: 'watermarked', url: 'https://example.com/hook', events: ['job.completed'], description: '', secret: 'whsec_a', from: { seq: 50, stream: STREAM } });
    const hearing = async (seq: number, stream: string) => (await repo.endpointsHearing('watermarked', 'job.completed', { seq, stream })).map((x) => [x.id, x.fromSeq]);
    expect(await hearing(50, STREAM)).toEqual([]);
    expect(await hearing(51, STREAM)).toEqual([[e.id, 50]]);
    expect(await hearing(3, 'another stream')).toEqual([[e.id, 0]]);
    // Hearing more moves the watermark, and into the stream it was read from.
    await repo.updateEndpoint(e.id, ALL, { events: ['job.completed', 'job.failed'] }, { seq: 7, stream: 'another stream' });
    expect(await hearing(7, 'another stream')).toEqual([]);
    expect(await hearing(8, 'another stream')).toEqual([[e.id, 7]]);
  });

  it('a replay makes a delivered delivery due again with its own id; a retry does the same for one', async () => {
    const e = await endpoint();
    const d = delivery(e.id, randomUUID(), 600);
    await repo.addDeliveries([d]);
    const [claimed] = await claim([e.id]);
    await repo.recordAttempt(claimed!, { kind: 'delivered', status: 200 }, 60_000);
    expect(await repo.requeueDeliveries([{ ...d, id: randomUUID() }])).toBe(1);
    const [again] = await claim([e.id]);
    expect(again?.id).toBe(d.id);
    await repo.recordAttempt(again!, { kind: 'delivered', status: 200 }, 60_000);
    expect(await repo.retryDelivery(e.id, d.id)).toMatchObject({ id: d.id, status: 'pending' });
    expect(await repo.retryDelivery(e.id, randomUUID())).toBeNull();
    expect((await claim([e.id])).map((x) => x.id)).toEqual([d.id]);
  });

  it("keeps each delivery's trace context for every attempt: through a retry, and a replay that reads its event again", async () => {
    const e = await endpoint();
    const traced = { ...delivery(e.id, randomUUID(), 650), trace: { traceparent: `00-${'a'.repeat(32)}-${'b'.repeat(16)}-01`, tracestate: 'v=1' } };
    const untraced = delivery(e.id, randomUUID(), 651);
    await repo.addDeliveries([traced, untraced]);
    const traceOf = async () => Object.fromEntries((await claim([e.id])).map((d) => [d.id, d.trace]));
    expect(await traceOf()).toEqual({ [traced.id]: traced.trace, [untraced.id]: null });

    await repo.retryDelivery(e.id, traced.id);
    await repo.retryDelivery(e.id, untraced.id);
    // A replay of an event read back without trace context keeps the one the delivery had; one with it gives it.
    const later = { traceparent: `00-${'c'.repeat(32)}-${'d'.repeat(16)}-01` };
    expect(await repo.requeueDeliveries([{ ...traced, id: randomUUID(), trace: undefined }, { ...untraced, id: randomUUID(), trace: later }])).toBe(2);
    expect(await traceOf()).toEqual({ [traced.id]: traced.trace, [untraced.id]: later });
  });

  it('pages deliveries newest event first, and refuses a cursor it did not make', async () => {
    const e = await endpoint();
    await repo.addDeliveries(Array.from({ length: 5 }, (_, i) => delivery(e.id, randomUUID(), 700 + i)));
    const first = await repo.deliveriesPage(e.id, 2, undefined);
    const second = await repo.deliveriesPage(e.id, 2, first.nextCursor!);
    const third = await repo.deliveriesPage(e.id, 2, second.nextCursor!);
    expect([...first.deliveries, ...second.deliveries, ...third.deliveries].map((d) => d.streamSeq)).toEqual([704, 703, 702, 701, 700]);
    expect(third.nextCursor).toBeNull();
    await expect(repo.deliveriesPage(e.id, 2, 'bm90LWEtY3Vyc29y')).rejects.toThrow(InvalidDeliveryCursorError);
  });
});
