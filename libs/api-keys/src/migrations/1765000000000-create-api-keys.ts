import type { MigrationInterface, QueryRunner } from 'typeorm';

/** API keys, stored as SHA-256 hashes. Names resolve through the connection's search_path (the auth schema). */
export class CreateApiKeys1765000000000 implements MigrationInterface {
  name = 'CreateApiKeys1765000000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE api_keys (
        key_id       text PRIMARY KEY,
        key_hash     text NOT NULL UNIQUE CHECK (key_hash ~ '^[0-9a-f]{64}$'),
        tenant       text NOT NULL,
        admin        boolean NOT NULL,
        name         text,
        created_at   timestamptz NOT NULL,
        revoked_at   timestamptz,
        last_used_at timestamptz
      )`);
    await q.query(`CREATE INDEX api_keys_tenant_idx ON api_keys (tenant)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE api_keys`);
  }
}
