import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * The W3C trace context of the event a delivery tells of (its `traceparent` and `tracestate`
 * headers in the stream), so that every attempt, whenever and by whichever instance it is made, is a
 * span in that event's trace. Null when the event was not traced (tracing off), and for deliveries
 * stored before this column.
 */
export class DeliveryTraceContext1766100000000 implements MigrationInterface {
  name = 'DeliveryTraceContext1766100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_deliveries ADD COLUMN traceparent text, ADD COLUMN tracestate text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE webhook_deliveries DROP COLUMN traceparent, DROP COLUMN tracestate`);
  }
}
