import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { z } from 'zod';
import { jobSubjects } from '@app/contracts';
import { renderNatsAuthorization, SERVICE_ROLES, type ServiceRole } from '@app/nats';

/** The users of the nats-server that `framewire start` runs: one per service, and `admin` for the CLI. */
export type LocalNatsUser = ServiceRole | 'admin';
export const LOCAL_NATS_USERS: readonly LocalNatsUser[] = [...SERVICE_ROLES, 'admin'];
export type LocalNatsPasswords = Record<LocalNatsUser, string>;

/** Where the passwords live, in the data directory, readable by its owner only. */
export const LOCAL_NATS_USERS_FILE = 'nats-users.json';

/**
 * nats-server reads a `$VARIABLE` as a config value, not as a string: one that starts with a digit or
 * a dash, or reads `true`, is a number, a parse error or a boolean. A letter, then letters and digits,
 * is always a string.
 */
const CONF_SAFE_PASSWORD = /^[A-Za-z][A-Za-z0-9]{31,}$/;
const passwordsSchema = z.object(Object.fromEntries(LOCAL_NATS_USERS.map((user) => [user, z.string().regex(CONF_SAFE_PASSWORD)])) as Record<LocalNatsUser, z.ZodString>);

/** 24 random bytes, hex, after a letter prefix (see CONF_SAFE_PASSWORD). */
function generatePassword(): string {
  return `fw${randomBytes(24).toString('hex')}`;
}

/** The environment variable that hands a user's password to nats-server (its config names it, never the password). */
export function passwordVariable(user: LocalNatsUser): string {
  return `FRAMEWIRE_NATS_${user.toUpperCase()}_PASSWORD`;
}

/** The passwords kept in `dataDir`, or null when there are none (or the file is not ours). */
export function readLocalNatsPasswords(dataDir: string): LocalNatsPasswords | null {
  const path = join(dataDir, LOCAL_NATS_USERS_FILE);
  if (!existsSync(path)) return null;
  try {
    const parsed = passwordsSchema.safeParse(JSON.parse(readFileSync(path, 'utf8')));
    return parsed.success ? parsed.data : null;
  } catch {
    return null;
  }
}

/**
 * The passwords of the local nats-server's users: generated (24 random bytes each) the first time, or
 * again if the file was damaged, and kept in `dataDir/nats-users.json` with mode 0600, so a restart
 * finds the same ones. They are never printed; `framewire` commands that find the running system
 * through the data directory read the admin password from there.
 */
export function ensureLocalNatsPasswords(dataDir: string): LocalNatsPasswords {
  const path = join(dataDir, LOCAL_NATS_USERS_FILE);
  const kept = readLocalNatsPasswords(dataDir);
  if (kept) {
    chmodSync(path, 0o600); // in case it was loosened since
    return kept;
  }
  const passwords = Object.fromEntries(LOCAL_NATS_USERS.map((user) => [user, generatePassword()])) as LocalNatsPasswords;
  // A damaged file that is there keeps its mode on write: remove it, so the new passwords are never
  // in a file that others may read, not even for a moment.
  rmSync(path, { force: true });
  writeFileSync(path, `${JSON.stringify(passwords, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  return passwords;
}

/**
 * The `authorization` block for the local server (the per-service permissions of deploy/nats, for
 * `namespace`) and the environment that holds the passwords it refers to: the config file itself
 * names only variables, so it holds no secret.
 */
export function localNatsAuthorization(namespace: string, passwords: LocalNatsPasswords): { authorization: string; env: Record<string, string> } {
  const references = Object.fromEntries(LOCAL_NATS_USERS.map((user) => [user, `$${passwordVariable(user)}`])) as LocalNatsPasswords;
  return {
    authorization: renderNatsAuthorization(jobSubjects(namespace), references),
    env: Object.fromEntries(LOCAL_NATS_USERS.map((user) => [passwordVariable(user), passwords[user]])),
  };
}
