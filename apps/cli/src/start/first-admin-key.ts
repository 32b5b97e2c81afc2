import { DEFAULT_TENANT } from '@app/contracts';
import { cliEnvSchema, parseConfig } from '@app/config';
import { withKeyStore } from '../keys/key-admin.js';

/** What the banner says about access: the key just created (shown this once), how many exist, or that the API is open. */
export type FirstKey = { created: { key: string; keyId: string } } | { active: number } | { open: true };

/**
 * Secure by default: when the key store has no active key, `framewire start` creates an admin key
 * (tenant "default"), which the banner shows once, on a line `API key: <key>`. With AUTH_MODE=off it
 * says, loudly, that the API is open instead.
 */
export async function ensureFirstKey(databaseUrl: string, say: (line: string) => void): Promise<FirstKey> {
  const config = parseConfig(cliEnvSchema, process.env);
  if (config.AUTH_MODE === 'off') {
    say('WARNING: AUTH_MODE=off: the API accepts every request without a key, as an admin of every tenant.');
    say('WARNING: this is a development setting; unset AUTH_MODE to require API keys.');
    return { open: true };
  }
  const created = await withKeyStore({ databaseUrl, authSchema: config.AUTH_DATABASE_SCHEMA }, async (keys) => {
    const first = await keys.ensureFirstAdmin(DEFAULT_TENANT);
    return { first, active: first ? 1 : await keys.countActive() };
  });
  if (!created.first) return { active: created.active };
  say('created the first admin key (tenant "default"); the banner shows it this once');
  return { created: { key: created.first.key, keyId: created.first.record.keyId } };
}

/** The banner's line about access; `API key: <key>` is the line the acceptance checks read. */
export function keyBannerLine(first: FirstKey): string {
  if ('created' in first) return `API key: ${first.created.key}  (admin, tenant "default", id ${first.created.keyId}: shown this once, store it now)`;
  if ('active' in first) return `API keys: ${first.active} active (framewire keys list; framewire keys create --tenant <name>)`;
  return 'API keys: none needed: AUTH_MODE=off, every request is an admin of every tenant (development only)';
}
