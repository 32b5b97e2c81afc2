import type { MigrationInterface, QueryRunner } from 'typeorm';

/** The jobs read model and the projection checkpoint. Names resolve through the connection's search_path. */
export class CreateReadModel1764000000000 implements MigrationInterface {
  name = 'CreateReadModel1764000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE jobs (
        job_id         uuid PRIMARY KEY,
        status         text NOT NULL,
        pipeline       text NOT NULL,
        params         jsonb NOT NULL,
        video          jsonb NOT NULL,
        progress       double precision NOT NULL,
        attempts       integer NOT NULL,
        worker_id      text,
        created_at     timestamptz NOT NULL,
        updated_at     timestamptz NOT NULL,
        started_at     timestamptz,
        completed_at   timestamptz,
        duration_ms    integer,
        error          jsonb,
        result         jsonb,
        result_ref     jsonb,
        correlation_id text NOT NULL,
        last_seq       bigint NOT NULL
      )`);
    await q.query(`CREATE INDEX jobs_created_idx ON jobs (created_at DESC, job_id DESC)`);
    await q.query(`CREATE INDEX jobs_status_created_idx ON jobs (status, created_at DESC, job_id DESC)`);
    await q.query(`
      CREATE TABLE projection_checkpoints (
        name       text PRIMARY KEY,
        last_seq   bigint NOT NULL,
        updated_at timestamptz NOT NULL
      )`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE projection_checkpoints`);
    await q.query(`DROP TABLE jobs`);
  }
}
