import type { DataSource, EntityManager } from 'typeorm';
import type { JobScope, WebhookDeliveryView, WebhookEndpointView, WebhookEventType } from '@app/contracts';

export interface EndpointRecord {
  id: string;
  tenant: string;
  url: string;
  events: WebhookEventType[];
  description: string;
  enabled: boolean;
  disabledReason: string | null;
  secret: string;
  previousSecret: string | null;
  previousSecretExpiresAt: Date | null;
  /** Events at or below this stream sequence are not sent (they were stored before the endpoint heard them). */
  fromSeq: number;
  /**
   * The stream `fromSeq` counts in (its creation time). A stream made again (NATS lost its data)
   * numbers from 1 again: its events are all after the watermark.
   */
  fromStream: string;
  failingSince: Date | null;
  createdAt: Date;
  updatedAt: Date;
}

/** A point of the event stream: a sequence, and the stream it counts in (its creation time). */
export interface StreamPosition {
  seq: number;
  stream: string;
}

export type DeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface DeliveryRecord {
  id: string;
  endpointId: string;
  eventId: string;
  eventType: WebhookEventType;
  jobId: string;
  streamSeq: number;
  occurredAt: Date;
  status: DeliveryStatus;
  attempts: number;
  nextAttemptAt: Date | null;
  firstAttemptAt: Date | null;
  lastStatusCode: number | null;
  lastError: string | null;
  deliveredAt: Date | null;
  createdAt: Date;
}

/**
 * The W3C trace context of the event a delivery tells of (the `traceparent` and `tracestate` it was
 * stored with): each attempt of the delivery is a span in that event's trace.
 */
export interface DeliveryTrace {
  traceparent: string;
  tracestate?: string;
}

/** A delivery the sender holds the lease of, with what it needs to sign and send it. */
export interface ClaimedDelivery extends DeliveryRecord {
  tenant: string;
  body: string;
  url: string;
  /** The secrets that sign it: the endpoint's, and the one before the last rotation while it is still valid. */
  secrets: string[];
  /** PostgreSQL's clock when it was claimed: every time of a delivery is on the database's clock. */
  claimedAt: Date;
  /** The trace its attempts belong to; null when its event was not traced. */
  trace: DeliveryTrace | null;
}

/** A delivery the fan-out stores: the event it tells of (and its trace, when it was traced), and the body every attempt sends. */
export type NewDelivery = Pick<DeliveryRecord, 'id' | 'endpointId' | 'eventId' | 'eventType' | 'jobId' | 'streamSeq' | 'occurredAt'> & { body: string; trace?: DeliveryTrace };

export interface EndpointPatch {
  url?: string | undefined;
  events?: WebhookEventType[] | undefined;
  description?: string | undefined;
  enabled?: boolean | undefined;
}

/** What one attempt came to, as the sender records it. */
export type AttemptRecord =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; status: number | null; error: string; nextAttemptAt: Date }
  | { kind: 'failed'; status: number | null; error: string };

export class InvalidDeliveryCursorError extends Error {
  constructor() {
    super('cursor is not one this API returned');
    this.name = 'InvalidDeliveryCursorError';
  }
}

const ENDPOINT_COLUMNS = `id, tenant, url, events, description, enabled, disabled_reason, secret, previous_secret,
  previous_secret_expires_at, from_seq, from_stream, failing_since, created_at, updated_at`;
const DELIVERY_COLUMNS = `id, endpoint_id, event_id, event_type, job_id, stream_seq, occurred_at, status, attempts,
  next_attempt_at, first_attempt_at, last_status_code, last_error, delivered_at, created_at`;

/**
 * The webhooks schema: endpoints (what each tenant registered) and deliveries (one per endpoint and
 * event, unique on that pair, so the fan-out may run twice over the same event). Every time that
 * decides something (due, leased, failing since) is PostgreSQL's now(), so instances on machines
 * whose clocks differ agree.
 */
export class WebhookRepository {
  constructor(private readonly ds: DataSource) {}

  // Endpoints

  async createEndpoint(input: {
    id: string;
    tenant: string;
    url: string;
    events: WebhookEventType[];
    description: string;
    secret: string;
    from: StreamPosition;
  }): Promise<EndpointRecord> {
    const rows = await this.ds.query(
      `INSERT INTO webhook_endpoints (id, tenant, url, events, description, secret, from_seq, from_stream)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${ENDPOINT_COLUMNS}`,
      [input.id, input.tenant, input.url, input.events, input.description, input.secret, input.from.seq, input.from.stream],
    );
    return toEndpoint(rows[0]);
  }

  async listEndpoints(scope: JobScope): Promise<EndpointRecord[]> {
    const rows = (await this.ds.query(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE ${IN_SCOPE('$1')} ORDER BY created_at, id`, [tenantOf(scope)])) as Row[];
    return rows.map(toEndpoint);
  }

  /** The endpoint, or null when there is none with this id in the scope (the same answer for both). */
  async getEndpoint(id: string, scope: JobScope): Promise<EndpointRecord | null> {
    const rows = (await this.ds.query(`SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints WHERE id = $1 AND ${IN_SCOPE('$2')}`, [id, tenantOf(scope)])) as Row[];
    return rows[0] ? toEndpoint(rows[0]) : null;
  }

  /**
   * Changes an endpoint. `fromSeq` moves its watermark: given when it starts hearing something it did
   * not (new event types, or enabled again), so that what the log stored before is not sent to it.
   * Enabling clears a disablement and the failure streak behind it.
   */
  async updateEndpoint(id: string, scope: JobScope, patch: EndpointPatch, from: StreamPosition | null): Promise<EndpointRecord | null> {
    const rows = (await this.ds.query(
      `UPDATE webhook_endpoints SET
         url = coalesce($2, url),
         events = coalesce($3, events),
         description = coalesce($4, description),
         enabled = coalesce($5, enabled),
         disabled_reason = CASE WHEN $5::boolean IS NOT NULL THEN NULL ELSE disabled_reason END,
         failing_since = CASE WHEN $5::boolean THEN NULL ELSE failing_since END,
         from_seq = CASE WHEN $7::text IS NULL THEN from_seq WHEN $7 <> from_stream THEN $6 ELSE greatest(from_seq, $6) END,
         from_stream = coalesce($7, from_stream),
         updated_at = now()
       WHERE id = $1 AND ${IN_SCOPE('$8')} RETURNING ${ENDPOINT_COLUMNS}`,
      [id, patch.url ?? null, patch.events ?? null, patch.description ?? null, patch.enabled ?? null, from?.seq ?? null, from?.stream ?? null, tenantOf(scope)],
    )) as [Row[], number];
    const row = rows[0][0];
    return row ? toEndpoint(row) : null;
  }

  /** Deletes the endpoint and its deliveries (nothing more is sent to it); false when it is not in the scope. */
  async deleteEndpoint(id: string, scope: JobScope): Promise<boolean> {
    const [, count] = (await this.ds.query(`DELETE FROM webhook_endpoints WHERE id = $1 AND ${IN_SCOPE('$2')}`, [id, tenantOf(scope)])) as [unknown, number];
    return count > 0;
  }

  /** A new secret; the current one keeps signing beside it for `graceMs`. */
  async rotateSecret(id: string, scope: JobScope, secret: string, graceMs: number): Promise<EndpointRecord | null> {
    const rows = (await this.ds.query(
      `UPDATE webhook_endpoints SET previous_secret = secret, secret = $2,
         previous_secret_expires_at = now() + $3 * interval '1 millisecond', updated_at = now()
       WHERE id = $1 AND ${IN_SCOPE('$4')} RETURNING ${ENDPOINT_COLUMNS}`,
      [id, secret, graceMs, tenantOf(scope)],
    )) as [Row[], number];
    const row = rows[0][0];
    return row ? toEndpoint(row) : null;
  }

  /**
   * The enabled endpoints of `tenant` that hear `type` and were hearing it when the event at `seq` of
   * the stream `stream` was stored. Each comes with the watermark that applies in that stream (0 when
   * its own is of another stream: the stream was made again since, and every event of it is new).
   */
  async endpointsHearing(tenant: string, type: WebhookEventType, at: StreamPosition): Promise<EndpointRecord[]> {
    const rows = (await this.ds.query(
      `SELECT ${ENDPOINT_COLUMNS} FROM webhook_endpoints
       WHERE tenant = $1 AND enabled AND $2 = ANY (events) AND (from_seq < $3 OR from_stream <> $4) ORDER BY id`,
      [tenant, type, at.seq, at.stream],
    )) as Row[];
    return rows.map(toEndpoint).map((e) => (e.fromStream === at.stream ? e : { ...e, fromSeq: 0 }));
  }

  // Deliveries: the fan-out

  /** For each endpoint, the stream sequence of its newest delivery of the job (absent: none yet). */
  async newestDeliveredSeq(jobId: string, endpointIds: string[]): Promise<Map<string, number>> {
    const rows = (await this.ds.query(
      `SELECT endpoint_id, max(stream_seq)::bigint AS seq FROM webhook_deliveries WHERE job_id = $1 AND endpoint_id = ANY ($2::uuid[]) GROUP BY endpoint_id`,
      [jobId, endpointIds],
    )) as Array<{ endpoint_id: string; seq: string }>;
    return new Map(rows.map((r) => [r.endpoint_id, Number(r.seq)]));
  }

  /** Stores deliveries (due now) in one transaction; one that exists already (same endpoint and event) is left as it is. */
  async addDeliveries(deliveries: NewDelivery[]): Promise<number> {
    if (deliveries.length === 0) return 0;
    return this.ds.transaction((tx) => insertDeliveries(tx, deliveries, 'keep'));
  }

  /**
   * A replay: stores the deliveries, and those that exist already are due again, at once, with a new
   * 24-hour window (and the same id, so a receiver that kept the id sees a resend of one message). A
   * resend stays in its event's trace: the one read from the log again, else the one it had.
   */
  async requeueDeliveries(deliveries: NewDelivery[]): Promise<number> {
    if (deliveries.length === 0) return 0;
    return this.ds.transaction((tx) => insertDeliveries(tx, deliveries, 'requeue'));
  }

  // Deliveries: the sender

  /**
   * Takes the lease of up to `limit` due deliveries: at most `perEndpoint` per endpoint, less what this
   * instance already has in flight to it (`busy`), the first due of each endpoint before the second of
   * any (so a backlog on one endpoint never starves the others), none of the tenants in
   * `fullTenants`, and only a job's earliest pending delivery to an endpoint (a job's events reach one
   * endpoint in stream order). An instance that dies holding a lease loses it after `leaseMs`.
   */
  async claimDue(options: {
    limit: number;
    perEndpoint: number;
    leaseMs: number;
    busy: ReadonlyMap<string, number>;
    fullTenants?: readonly string[];
  }): Promise<ClaimedDelivery[]> {
    const busyIds = [...options.busy.keys()];
    const busyCounts = busyIds.map((id) => options.busy.get(id) ?? 0);
    const [rows] = (await this.ds.query(
      `WITH picked AS (
         SELECT c.id, c.rn FROM webhook_endpoints e
         CROSS JOIN LATERAL (
           SELECT d.id, row_number() OVER (ORDER BY d.next_attempt_at, d.stream_seq) AS rn
           FROM webhook_deliveries d
           WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= now()
             AND (d.locked_until IS NULL OR d.locked_until < now())
             AND NOT EXISTS (
               SELECT 1 FROM webhook_deliveries p
               WHERE p.endpoint_id = d.endpoint_id AND p.job_id = d.job_id AND p.stream_seq < d.stream_seq AND p.status = 'pending')
           ORDER BY d.next_attempt_at, d.stream_seq
           LIMIT greatest(0, $2 - coalesce((SELECT b.n FROM unnest($4::uuid[], $5::int[]) AS b(id, n) WHERE b.id = e.id), 0))
         ) c
         WHERE e.enabled AND e.tenant <> ALL ($6::text[])
         ORDER BY c.rn, c.id
         LIMIT $1
       )
       UPDATE webhook_deliveries d SET locked_until = now() + $3 * interval '1 millisecond', first_attempt_at = coalesce(d.first_attempt_at, now())
       FROM picked, webhook_endpoints e
       WHERE d.id = picked.id AND e.id = d.endpoint_id AND d.status = 'pending' AND (d.locked_until IS NULL OR d.locked_until < now())
       RETURNING d.id, d.endpoint_id, d.event_id, d.event_type, d.job_id, d.stream_seq, d.occurred_at, d.status, d.attempts,
         d.next_attempt_at, d.first_attempt_at, d.last_status_code, d.last_error, d.delivered_at, d.created_at, d.body,
         d.traceparent, d.tracestate, e.tenant, e.url, e.secret, CASE WHEN e.previous_secret_expires_at > now() THEN e.previous_secret END AS previous_secret, now() AS claimed_at`,
      [options.limit, options.perEndpoint, options.leaseMs, busyIds, busyCounts, options.fullTenants ?? []],
    )) as [Row[], number];
    return rows.map((row) => ({
      ...toDelivery(row),
      tenant: String(row['tenant']),
      body: String(row['body']),
      url: String(row['url']),
      secrets: [String(row['secret']), ...(row['previous_secret'] ? [String(row['previous_secret'])] : [])],
      claimedAt: new Date(row['claimed_at'] as string),
      trace: toTrace(row),
    }));
  }

  /**
   * Records one attempt and what it means for the endpoint: a success ends its failure streak; a
   * failure starts one (or goes on with it), and a streak older than `disableAfterMs` disables the
   * endpoint. Resolves to the reason when this attempt disabled it.
   */
  async recordAttempt(delivery: { id: string; endpointId: string }, attempt: AttemptRecord, disableAfterMs: number): Promise<{ disabled: string | null }> {
    if (attempt.kind === 'delivered') {
      // The usual case, in one statement (one round trip, one commit).
      await this.ds.query(
        `WITH delivered AS (
           UPDATE webhook_deliveries SET status = 'delivered', attempts = attempts + 1, last_attempt_at = now(), last_status_code = $2,
             last_error = NULL, next_attempt_at = NULL, delivered_at = now(), locked_until = NULL
           WHERE id = $1)
         UPDATE webhook_endpoints SET failing_since = NULL WHERE id = $3 AND failing_since IS NOT NULL`,
        [delivery.id, attempt.status, delivery.endpointId],
      );
      return { disabled: null };
    }
    return this.ds.transaction(async (tx) => {
      const status = attempt.kind === 'retry' ? 'pending' : 'failed';
      await tx.query(
        `UPDATE webhook_deliveries SET status = $2, attempts = attempts + 1, last_attempt_at = now(), last_status_code = $3,
           last_error = $4, next_attempt_at = $5, delivered_at = NULL, locked_until = NULL
         WHERE id = $1`,
        [delivery.id, status, attempt.status, attempt.error, attempt.kind === 'retry' ? attempt.nextAttemptAt : null],
      );
      const [rows] = (await tx.query(
        `UPDATE webhook_endpoints e SET
           failing_since = coalesce(e.failing_since, now()),
           enabled = e.enabled AND NOT (coalesce(e.failing_since, now()) <= now() - $2 * interval '1 millisecond'),
           disabled_reason = CASE WHEN e.enabled AND coalesce(e.failing_since, now()) <= now() - $2 * interval '1 millisecond'
             THEN 'disabled by Framewire: every delivery since ' || to_char(e.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') || ' failed (last: ' || left($3, 200) || '); fix the endpoint, then enable it (PATCH enabled: true)'
             ELSE e.disabled_reason END,
           updated_at = CASE WHEN e.enabled AND coalesce(e.failing_since, now()) <= now() - $2 * interval '1 millisecond' THEN now() ELSE e.updated_at END
         FROM webhook_endpoints before
         WHERE e.id = $1 AND before.id = e.id
         RETURNING before.enabled AS was_enabled, e.enabled, e.disabled_reason`,
        [delivery.endpointId, disableAfterMs, attempt.error],
      )) as [Array<{ was_enabled: boolean; enabled: boolean; disabled_reason: string | null }>, number];
      const row = rows[0];
      return { disabled: row && row.was_enabled && !row.enabled ? row.disabled_reason : null };
    });
  }

  /** Hands back a lease unused (shutdown): the delivery is due again at once, for whichever instance. */
  async releaseLease(id: string): Promise<void> {
    await this.ds.query(`UPDATE webhook_deliveries SET locked_until = NULL WHERE id = $1 AND status = 'pending'`, [id]);
  }

  /** When the next pending delivery of an enabled endpoint is due (null: none pending). */
  async nextDueAt(): Promise<Date | null> {
    const rows = (await this.ds.query(
      `SELECT min(greatest(d.next_attempt_at, coalesce(d.locked_until, d.next_attempt_at))) AS due
       FROM webhook_deliveries d JOIN webhook_endpoints e ON e.id = d.endpoint_id AND e.enabled
       WHERE d.status = 'pending'`,
    )) as Array<{ due: string | null }>;
    return rows[0]?.due ? new Date(rows[0].due) : null;
  }

  /** Pending deliveries per endpoint (the queue-depth gauge). */
  async pendingByEndpoint(): Promise<Array<{ endpointId: string; tenant: string; pending: number }>> {
    const rows = (await this.ds.query(
      `SELECT e.id, e.tenant, count(d.id)::int AS pending FROM webhook_endpoints e
       LEFT JOIN webhook_deliveries d ON d.endpoint_id = e.id AND d.status = 'pending'
       GROUP BY e.id, e.tenant`,
    )) as Array<{ id: string; tenant: string; pending: number }>;
    return rows.map((r) => ({ endpointId: r.id, tenant: r.tenant, pending: r.pending }));
  }

  // Deliveries: the API

  /** A page of the endpoint's deliveries, newest event first (keyset paging on stream sequence and id). */
  async deliveriesPage(endpointId: string, limit: number, cursor: string | undefined): Promise<{ deliveries: DeliveryRecord[]; nextCursor: string | null }> {
    const after = cursor === undefined ? null : decodeCursor(cursor);
    const rows = (await this.ds.query(
      `SELECT ${DELIVERY_COLUMNS} FROM webhook_deliveries
       WHERE endpoint_id = $1 AND ($2::bigint IS NULL OR (stream_seq, id) < ($2::bigint, $3::uuid))
       ORDER BY stream_seq DESC, id DESC LIMIT $4`,
      [endpointId, after?.seq ?? null, after?.id ?? null, limit + 1],
    )) as Row[];
    const page = rows.slice(0, limit).map(toDelivery);
    const last = page.at(-1);
    return { deliveries: page, nextCursor: rows.length > limit && last ? encodeCursor(last.streamSeq, last.id) : null };
  }

  /** Sends a delivery again: due at once, with a new 24-hour window, in the trace it had. Null when the endpoint has no such delivery. */
  async retryDelivery(endpointId: string, deliveryId: string): Promise<DeliveryRecord | null> {
    const [rows] = (await this.ds.query(
      `UPDATE webhook_deliveries SET status = 'pending', next_attempt_at = now(), first_attempt_at = NULL, locked_until = NULL
       WHERE id = $1 AND endpoint_id = $2 RETURNING ${DELIVERY_COLUMNS}`,
      [deliveryId, endpointId],
    )) as [Row[], number];
    return rows[0] ? toDelivery(rows[0]) : null;
  }
}

async function insertDeliveries(tx: EntityManager, deliveries: NewDelivery[], onExisting: 'keep' | 'requeue'): Promise<number> {
  const conflict = onExisting === 'keep'
    ? 'ON CONFLICT (endpoint_id, event_id) DO NOTHING'
    : `ON CONFLICT (endpoint_id, event_id) DO UPDATE SET status = 'pending', next_attempt_at = now(), first_attempt_at = NULL, locked_until = NULL,
         tracestate = CASE WHEN EXCLUDED.traceparent IS NULL THEN webhook_deliveries.tracestate ELSE EXCLUDED.tracestate END,
         traceparent = coalesce(EXCLUDED.traceparent, webhook_deliveries.traceparent)`;
  const rows = (await tx.query(
    `INSERT INTO webhook_deliveries (id, endpoint_id, event_id, event_type, job_id, stream_seq, occurred_at, body, traceparent, tracestate, next_attempt_at)
     SELECT id, endpoint_id, event_id, event_type, job_id, stream_seq, occurred_at, body, traceparent, tracestate, now()
     FROM unnest($1::uuid[], $2::uuid[], $3::uuid[], $4::text[], $5::uuid[], $6::bigint[], $7::timestamptz[], $8::text[], $9::text[], $10::text[])
       AS t(id, endpoint_id, event_id, event_type, job_id, stream_seq, occurred_at, body, traceparent, tracestate)
     ORDER BY stream_seq
     ${conflict}
     RETURNING id`,
    [
      deliveries.map((d) => d.id),
      deliveries.map((d) => d.endpointId),
      deliveries.map((d) => d.eventId),
      deliveries.map((d) => d.eventType),
      deliveries.map((d) => d.jobId),
      deliveries.map((d) => d.streamSeq),
      deliveries.map((d) => d.occurredAt),
      deliveries.map((d) => d.body),
      deliveries.map((d) => d.trace?.traceparent ?? null),
      deliveries.map((d) => d.trace?.tracestate ?? null),
    ],
  )) as unknown[];
  // TypeORM answers an INSERT ... RETURNING with its rows (an UPDATE with [rows, count]).
  return rows.length;
}

/**
 * A scope in SQL, in the statement that reads or changes the endpoint (no read before the write): the
 * parameter is the scope's tenant, or null for an admin's scope, which sees every tenant.
 */
const IN_SCOPE = (param: string) => `(${param}::text IS NULL OR tenant = ${param})`;

function tenantOf(scope: JobScope): string | null {
  return scope.kind === 'tenant' ? scope.tenant : null;
}

type Row = Record<string, unknown>;

const dateOrNull = (value: unknown): Date | null => (value === null || value === undefined ? null : new Date(value as string));

function toEndpoint(row: Row): EndpointRecord {
  return {
    id: String(row['id']),
    tenant: String(row['tenant']),
    url: String(row['url']),
    events: row['events'] as WebhookEventType[],
    description: String(row['description']),
    enabled: Boolean(row['enabled']),
    disabledReason: (row['disabled_reason'] as string | null) ?? null,
    secret: String(row['secret']),
    previousSecret: (row['previous_secret'] as string | null) ?? null,
    previousSecretExpiresAt: dateOrNull(row['previous_secret_expires_at']),
    fromSeq: Number(row['from_seq']),
    fromStream: String(row['from_stream']),
    failingSince: dateOrNull(row['failing_since']),
    createdAt: new Date(row['created_at'] as string),
    updatedAt: new Date(row['updated_at'] as string),
  };
}

function toDelivery(row: Row): DeliveryRecord {
  return {
    id: String(row['id']),
    endpointId: String(row['endpoint_id']),
    eventId: String(row['event_id']),
    eventType: row['event_type'] as WebhookEventType,
    jobId: String(row['job_id']),
    streamSeq: Number(row['stream_seq']),
    occurredAt: new Date(row['occurred_at'] as string),
    status: row['status'] as DeliveryStatus,
    attempts: Number(row['attempts']),
    nextAttemptAt: dateOrNull(row['next_attempt_at']),
    firstAttemptAt: dateOrNull(row['first_attempt_at']),
    lastStatusCode: (row['last_status_code'] as number | null) ?? null,
    lastError: (row['last_error'] as string | null) ?? null,
    deliveredAt: dateOrNull(row['delivered_at']),
    createdAt: new Date(row['created_at'] as string),
  };
}

function toTrace(row: Row): DeliveryTrace | null {
  const traceparent = row['traceparent'] as string | null;
  if (!traceparent) return null;
  const tracestate = row['tracestate'] as string | null;
  return tracestate ? { traceparent, tracestate } : { traceparent };
}

function encodeCursor(seq: number, id: string): string {
  return Buffer.from(JSON.stringify([seq, id])).toString('base64url');
}

function decodeCursor(cursor: string): { seq: number; id: string } {
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (Array.isArray(value) && value.length === 2 && Number.isSafeInteger(value[0]) && typeof value[1] === 'string' && /^[0-9a-f-]{36}$/.test(value[1])) {
      return { seq: value[0] as number, id: value[1] };
    }
  } catch {
    // falls through
  }
  throw new InvalidDeliveryCursorError();
}

/** The API's view of an endpoint: never its secrets. */
export function endpointView(e: EndpointRecord): WebhookEndpointView {
  return {
    id: e.id,
    tenant: e.tenant,
    url: e.url,
    events: e.events,
    description: e.description,
    enabled: e.enabled,
    disabled_reason: e.disabledReason,
    failing_since: e.failingSince?.toISOString() ?? null,
    previous_secret_expires_at: e.previousSecret && e.previousSecretExpiresAt && e.previousSecretExpiresAt.getTime() > Date.now() ? e.previousSecretExpiresAt.toISOString() : null,
    created_at: e.createdAt.toISOString(),
    updated_at: e.updatedAt.toISOString(),
  };
}

export function deliveryView(d: DeliveryRecord): WebhookDeliveryView {
  return {
    id: d.id,
    endpoint_id: d.endpointId,
    event_type: d.eventType,
    event_id: d.eventId,
    job_id: d.jobId,
    stream_seq: d.streamSeq,
    status: d.status,
    attempts: d.attempts,
    last_status_code: d.lastStatusCode,
    last_error: d.lastError,
    next_attempt_at: d.status === 'pending' ? (d.nextAttemptAt?.toISOString() ?? null) : null,
    delivered_at: d.deliveredAt?.toISOString() ?? null,
    created_at: d.createdAt.toISOString(),
  };
}
