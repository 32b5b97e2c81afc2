import { Column, Entity, Index, PrimaryColumn } from 'typeorm';

/**
 * One API key. Security configuration, not job state: it lives in its own schema with its own
 * migrations, and replaying or rebuilding the read model never touches it. Only the key's SHA-256
 * is stored; the key itself is shown once, when it is created.
 */
@Entity({ name: 'api_keys' })
@Index('api_keys_tenant_idx', ['tenant'])
export class ApiKeyRow {
  @PrimaryColumn('text', { name: 'key_id' })
  keyId!: string;

  @Column('text', { name: 'key_hash', unique: true })
  keyHash!: string;

  @Column('text')
  tenant!: string;

  @Column('boolean')
  admin!: boolean;

  @Column('text', { nullable: true })
  name!: string | null;

  @Column('timestamptz', { name: 'created_at' })
  createdAt!: Date;

  @Column('timestamptz', { name: 'revoked_at', nullable: true })
  revokedAt!: Date | null;

  @Column('timestamptz', { name: 'last_used_at', nullable: true })
  lastUsedAt!: Date | null;
}
