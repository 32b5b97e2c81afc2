import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The trace a job was submitted in (issue #20): its VideoSubmitted's stored traceparent's trace id, null when untraced. */
export class TraceId1764700000000 implements MigrationInterface {
  name = 'TraceId1764700000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN trace_id text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN trace_id`);
  }
}
