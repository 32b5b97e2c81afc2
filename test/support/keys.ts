import { ApiKeyRepository, openKeyStore } from '@app/api-keys';
import { authSchemaFor } from '@app/config';
import { TEST_DATABASE_URL } from './services.js';

export interface TestKey {
  key: string;
  keyId: string;
  tenant: string;
  /** `{ Authorization: 'Bearer <key>' }`, to spread into fetch headers. */
  headers: Record<string, string>;
}

/**
 * API keys for tests, made straight in the key store of a test schema (the auth schema beside it,
 * which freshSchema().drop() removes too).
 */
export async function testKeys(readModelSchema: string, url = TEST_DATABASE_URL) {
  const ds = await openKeyStore({ url, schema: authSchemaFor(readModelSchema), poolSize: 1 });
  const repo = new ApiKeyRepository(ds);
  return {
    repo,
    async create(tenant: string, admin = false, name: string | null = null): Promise<TestKey> {
      const { key, record } = await repo.create({ tenant, admin, name });
      return { key, keyId: record.keyId, tenant, headers: { Authorization: `Bearer ${key}` } };
    },
    close: () => ds.destroy(),
  };
}
