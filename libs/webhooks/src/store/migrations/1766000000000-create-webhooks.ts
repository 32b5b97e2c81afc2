import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Webhook endpoints and their deliveries. Configuration and a delivery log, not job state: they live
 * in their own schema with their own migrations, and no replay or rebuild of the read model touches
 * them. Names resolve through the connection's search_path (the webhooks schema).
 */
export class CreateWebhooks1766000000000 implements MigrationInterface {
  name = 'CreateWebhooks1766000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE webhook_endpoints (
        id                         uuid PRIMARY KEY,
        tenant                     text NOT NULL,
        url                        text NOT NULL,
        events                     text[] NOT NULL,
        description                text NOT NULL DEFAULT '',
        enabled                    boolean NOT NULL DEFAULT true,
        disabled_reason            text,
        secret                     text NOT NULL,
        previous_secret            text,
        previous_secret_expires_at timestamptz,
        from_seq                   bigint NOT NULL,
        from_stream                text NOT NULL,
        failing_since              timestamptz,
        created_at                 timestamptz NOT NULL DEFAULT now(),
        updated_at                 timestamptz NOT NULL DEFAULT now()
      )`);
    await q.query(`CREATE INDEX webhook_endpoints_tenant_idx ON webhook_endpoints (tenant) WHERE enabled`);
    await q.query(`
      CREATE TABLE webhook_deliveries (
        id               uuid PRIMARY KEY,
        endpoint_id      uuid NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
        event_id         uuid NOT NULL,
        event_type       text NOT NULL,
        job_id           uuid NOT NULL,
        stream_seq       bigint NOT NULL,
        occurred_at      timestamptz NOT NULL,
        body             text NOT NULL,
        status           text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempts         integer NOT NULL DEFAULT 0,
        next_attempt_at  timestamptz,
        locked_until     timestamptz,
        first_attempt_at timestamptz,
        last_attempt_at  timestamptz,
        last_status_code integer,
        last_error       text,
        delivered_at     timestamptz,
        created_at       timestamptz NOT NULL DEFAULT now(),
        UNIQUE (endpoint_id, event_id)
      )`);
    // What the sender claims: each endpoint's pending deliveries by due time.
    await q.query(`CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (endpoint_id, next_attempt_at) WHERE status = 'pending'`);
    // A job's earlier deliveries to the same endpoint (ordering), and the fan-out's "what is there already".
    await q.query(`CREATE INDEX webhook_deliveries_job_idx ON webhook_deliveries (endpoint_id, job_id, stream_seq)`);
    // The deliveries page, newest first.
    await q.query(`CREATE INDEX webhook_deliveries_page_idx ON webhook_deliveries (endpoint_id, stream_seq DESC, id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE webhook_deliveries`);
    await q.query(`DROP TABLE webhook_endpoints`);
  }
}
