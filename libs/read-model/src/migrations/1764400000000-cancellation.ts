import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Cancellation: when a cancel was asked for (JobCancelRequested), so a client can tell a running job
 * that is being stopped from one that is not. A job that ended cancelled has the status `cancelled`,
 * which needs no change: status is text.
 */
export class Cancellation1764400000000 implements MigrationInterface {
  name = 'Cancellation1764400000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN cancel_requested_at timestamptz`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN cancel_requested_at`);
  }
}
