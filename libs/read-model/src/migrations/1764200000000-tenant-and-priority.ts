import type { MigrationInterface, QueryRunner } from 'typeorm';

/** Who owns each job and its priority (VideoSubmitted v2). Jobs from v1 events are the default tenant's, normal. */
export class TenantAndPriority1764200000000 implements MigrationInterface {
  name = 'TenantAndPriority1764200000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE jobs ADD COLUMN tenant text NOT NULL DEFAULT 'default'`);
    await q.query(`ALTER TABLE jobs ADD COLUMN priority text NOT NULL DEFAULT 'normal'`);
    await q.query(`CREATE INDEX jobs_tenant_created_idx ON jobs (tenant, created_at DESC, job_id DESC)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP INDEX jobs_tenant_created_idx`);
    await q.query(`ALTER TABLE jobs DROP COLUMN priority`);
    await q.query(`ALTER TABLE jobs DROP COLUMN tenant`);
  }
}
