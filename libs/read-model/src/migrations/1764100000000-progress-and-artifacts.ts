import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Progress details of the running attempt and the artifacts of a completed job. */
export class ProgressAndArtifacts1764100000000 implements MigrationInterface {
  name = 'ProgressAndArtifacts1764100000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN progress_detail jsonb`);
    await q.query(`ALTER TABLE jobs ADD COLUMN artifacts jsonb NOT NULL DEFAULT '[]'::jsonb`);
    await q.query(`CREATE INDEX jobs_pipeline_created_idx ON jobs (pipeline, created_at DESC, job_id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_pipeline_created_idx`);
    await q.query(`ALTER TABLE jobs DROP COLUMN artifacts`);
    await q.query(`ALTER TABLE jobs DROP COLUMN progress_detail`);
  }
}
