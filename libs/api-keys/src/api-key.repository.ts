import { randomBytes } from 'node:crypto';
import type { DataSource, EntityManager } from 'typeorm';
import { hashApiKey, type Principal } from '@app/contracts';
import { ApiKeyRow } from './api-key.entity.js';

export interface ApiKeyRecord {
  keyId: string;
  tenant: string;
  admin: boolean;
  name: string | null;
  createdAt: Date;
  revokedAt: Date | null;
  lastUsedAt: Date | null;
}

export interface NewApiKey {
  /** The key itself. It is not stored anywhere: show it once, then it is gone. */
  key: string;
  record: ApiKeyRecord;
}

export interface CreateKeyInput {
  tenant: string;
  admin: boolean;
  name?: string | null;
}

export type RevokeOutcome = { status: 'revoked' | 'already-revoked'; record: ApiKeyRecord } | { status: 'not-found' };

/** A fresh key: `fwk_` and 32 random bytes in base64url. */
export function generateApiKey(): string {
  return `fwk_${randomBytes(32).toString('base64url')}`;
}

function generateKeyId(): string {
  return `key_${randomBytes(6).toString('hex')}`;
}

/** How often `touch` writes last_used_at for one key at most. */
const TOUCH_INTERVAL = '1 minute';

/** The API keys in the auth schema: created, listed, revoked and verified by hash. */
export class ApiKeyRepository {
  constructor(private readonly ds: DataSource) {}

  async create(input: CreateKeyInput): Promise<NewApiKey> {
    return this.insert(this.ds.manager, input);
  }

  /**
   * The secure default of `framewire start`: when there is no active key at all, create an admin key
   * and return it (to be shown once); otherwise null. Serialised by a transaction-level advisory lock,
   * so two starts at once make one key.
   */
  async ensureFirstAdmin(tenant: string, name = 'first admin key (framewire start)'): Promise<NewApiKey | null> {
    return this.ds.transaction(async (tx) => {
      await tx.query(`SELECT pg_advisory_xact_lock(hashtext('framewire:first-admin-key'))`);
      const [{ count }] = (await tx.query(`SELECT count(*)::int AS count FROM api_keys WHERE revoked_at IS NULL`)) as [{ count: number }];
      if (count > 0) return null;
      return this.insert(tx, { tenant, admin: true, name });
    });
  }

  async list(options: { tenant?: string; includeRevoked?: boolean } = {}): Promise<ApiKeyRecord[]> {
    const qb = this.ds.getRepository(ApiKeyRow).createQueryBuilder('k').orderBy('k.created_at', 'ASC').addOrderBy('k.key_id', 'ASC');
    if (!options.includeRevoked) qb.andWhere('k.revoked_at IS NULL');
    if (options.tenant) qb.andWhere('k.tenant = :tenant', { tenant: options.tenant });
    return (await qb.getMany()).map(toRecord);
  }

  async countActive(): Promise<number> {
    return this.ds.getRepository(ApiKeyRow).createQueryBuilder('k').where('k.revoked_at IS NULL').getCount();
  }

  /** Revokes a key for good. Revoking it again changes nothing and says so. */
  async revoke(keyId: string): Promise<RevokeOutcome> {
    const updated = (await this.ds.query(
      `UPDATE api_keys SET revoked_at = now() WHERE key_id = $1 AND revoked_at IS NULL RETURNING *`,
      [keyId],
    )) as [Record<string, unknown>[], number];
    const row = this.ds.getRepository(ApiKeyRow);
    const found = await row.findOneBy({ keyId });
    if (!found) return { status: 'not-found' };
    return { status: updated[0].length > 0 ? 'revoked' : 'already-revoked', record: toRecord(found) };
  }

  /** The principal of the active key with this SHA-256, or null (unknown or revoked). */
  async principalByHash(keyHash: string): Promise<Principal | null> {
    const found = await this.ds.getRepository(ApiKeyRow).findOneBy({ keyHash });
    if (!found || found.revokedAt) return null;
    return { key_id: found.keyId, tenant: found.tenant, admin: found.admin, name: found.name };
  }

  /** Records that a key was used, at most once per TOUCH_INTERVAL, so verification stays a read. */
  async touch(keyId: string): Promise<void> {
    await this.ds.query(
      `UPDATE api_keys SET last_used_at = now() WHERE key_id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '${TOUCH_INTERVAL}')`,
      [keyId],
    );
  }

  private async insert(manager: EntityManager, input: CreateKeyInput): Promise<NewApiKey> {
    const key = generateApiKey();
    const row = manager.getRepository(ApiKeyRow).create({
      keyId: generateKeyId(),
      keyHash: hashApiKey(key),
      tenant: input.tenant,
      admin: input.admin,
      name: input.name ?? null,
      createdAt: new Date(),
      revokedAt: null,
      lastUsedAt: null,
    });
    await manager.getRepository(ApiKeyRow).insert(row);
    return { key, record: toRecord(row) };
  }
}

function toRecord(row: ApiKeyRow): ApiKeyRecord {
  return {
    keyId: row.keyId,
    tenant: row.tenant,
    admin: row.admin,
    name: row.name,
    createdAt: row.createdAt,
    revokedAt: row.revokedAt,
    lastUsedAt: row.lastUsedAt,
  };
}
