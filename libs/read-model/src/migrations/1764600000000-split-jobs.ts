import type { MigrationInterface, QueryRunner } from 'typeorm';

/** A split job's parts (issue #19): JobState.split as JSON, null for a job run whole. */
export class SplitJobs1764600000000 implements MigrationInterface {
  name = 'SplitJobs1764600000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN split jsonb`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs DROP COLUMN split`);
  }
}
