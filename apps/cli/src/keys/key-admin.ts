import type { DataSource } from 'typeorm';
import { jobSubjects, type KeyRevokedMessage } from '@app/contracts';
import { ApiKeyRepository, openKeyStore } from '@app/api-keys';
import { connectNats, inboxPrefixOf } from '@app/nats';
import { redact } from '../shared/redact.js';

export interface KeyAdminOptions {
  databaseUrl: string;
  authSchema: string;
}

/** Opens the key store (migrating it if needed) for one command, and closes it afterwards. */
export async function withKeyStore<T>(options: KeyAdminOptions, run: (keys: ApiKeyRepository) => Promise<T>): Promise<T> {
  let ds: DataSource;
  try {
    ds = await openKeyStore({ url: options.databaseUrl, schema: options.authSchema, poolSize: 1 });
  } catch (error) {
    throw new Error(`cannot open the key store at ${redact(options.databaseUrl)} (schema ${options.authSchema}): ${(error as Error).message}; set DATABASE_URL`);
  }
  try {
    return await run(new ApiKeyRepository(ds));
  } finally {
    await ds.destroy();
  }
}

export interface NotifyOptions {
  natsUrl: string;
  namespace: string;
  user?: string | undefined;
  pass?: string | undefined;
}

/**
 * Tells every gateway that a key was revoked (core NATS, `<ns>.auth.keys.revoked`), so none of them
 * keeps it in its cache. Resolves false when NATS cannot be reached in time: the revocation holds in
 * the database anyway, and gateways drop the key when their cache entry expires.
 */
export async function broadcastRevocation(options: NotifyOptions, keyId: string): Promise<boolean> {
  const subjects = jobSubjects(options.namespace);
  const message: KeyRevokedMessage = { key_id: keyId };
  try {
    const nc = await Promise.race([
      connectNats(options.natsUrl, 'framewire-cli', { user: options.user, pass: options.pass, inboxPrefix: inboxPrefixOf('jobs') }),
      new Promise<never>((_, reject) => setTimeout(() => reject(new Error('timeout')), 3000).unref()),
    ]);
    try {
      nc.publish(subjects.keyRevoked, JSON.stringify(message));
      await nc.flush();
    } finally {
      await nc.close();
    }
    return true;
  } catch {
    return false;
  }
}
