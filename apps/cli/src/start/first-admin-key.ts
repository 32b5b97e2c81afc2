import { DEFAULT_TENANT } from '@app/contracts';
import { cliEnvSchema, parseConfig } from '@app/config';
import { withKeyStore } from '../keys/key-admin.js';

/**
 * Secure by default: when the key store has no active key, `framewire start` creates an admin key
 * (tenant "default") and prints it once, on a line `API key: <key>`. With AUTH_MODE=off it says, loudly,
 * that the API is open instead.
 */
export async function ensureFirstKey(databaseUrl: string, say: (line: string) => void): Promise<void> {
  const config = parseConfig(cliEnvSchema, process.env);
  if (config.AUTH_MODE === 'off') {
    say('WARNING: AUTH_MODE=off: the API accepts every request without a key, as an admin of every tenant.');
    say('WARNING: this is a development setting; unset AUTH_MODE to require API keys.');
    return;
  }
  const created = await withKeyStore({ databaseUrl, authSchema: config.AUTH_DATABASE_SCHEMA }, async (keys) => {
    const first = await keys.ensureFirstAdmin(DEFAULT_TENANT);
    return { first, active: first ? 1 : await keys.countActive() };
  });
  if (created.first) {
    say('created the first admin key (tenant "default"); it is shown this once, store it now:');
    say(`API key: ${created.first.key}`);
    say(`  (id ${created.first.record.keyId}; more keys: framewire keys create --tenant <name>)`);
  } else {
    say(`API keys: ${created.active} active (framewire keys list; framewire keys create --tenant <name>)`);
  }
}
