import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Dead letters (JobFailed v2 with `deadLetter`): a column on the job, filled and cleared by the
 * projection like every other column, so replay rebuilds the list. The partial index serves
 * GET /v1/dead-letters, newest first, without scanning the jobs that are not dead letters.
 */
export class DeadLetters1764300000000 implements MigrationInterface {
  name = 'DeadLetters1764300000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN dead_letter jsonb`);
    await q.query(`CREATE INDEX jobs_dead_letter_idx ON jobs (completed_at DESC, job_id DESC) WHERE dead_letter IS NOT NULL`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_dead_letter_idx`);
    await q.query(`ALTER TABLE jobs DROP COLUMN dead_letter`);
  }
}
