import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Deletion: when a deletion was asked for and when the job was deleted (JobDeleted). A deleted job
 * keeps its row as a tombstone (what it was and when it ended), but is no longer listed or served;
 * the partial indexes serve the jobs service's sweep (pending deletions, ended jobs past retention).
 */
export class Deletion1764500000000 implements MigrationInterface {
  name = 'Deletion1764500000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN delete_request jsonb, ADD COLUMN deleted_at timestamptz`);
    await q.query(`CREATE INDEX jobs_pending_deletion_idx ON jobs (job_id) WHERE delete_request IS NOT NULL AND deleted_at IS NULL`);
    await q.query(`CREATE INDEX jobs_ended_live_idx ON jobs (completed_at) WHERE deleted_at IS NULL AND completed_at IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_ended_live_idx`);
    await q.query(`DROP INDEX jobs_pending_deletion_idx`);
    await q.query(`ALTER TABLE jobs DROP COLUMN deleted_at, DROP COLUMN delete_request`);
  }
}
