import { type Command, InvalidArgumentError } from 'commander';
import { apiKeyIdSchema, apiKeyNameSchema, tenantIdSchema } from '@app/contracts';
import { cliEnvSchema, parseConfig, type CliConfig } from '@app/config';
import type { ApiKeyRecord } from '@app/api-keys';
import { dataDirOf, defaultDataDir, resolveDatabaseUrl, resolveNatsTarget, type NatsTarget } from '../connection.js';
import { broadcastRevocation, withKeyStore } from './key-admin.js';

function validated<T>(schema: { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: Array<{ message: string }> } } }) {
  return (value: string): T => {
    const parsed = schema.safeParse(value);
    if (!parsed.success) throw new InvalidArgumentError(parsed.error.issues[0]?.message ?? 'invalid');
    return parsed.data;
  };
}

interface Context {
  config: CliConfig;
  databaseUrl: string;
  nats: NatsTarget;
}

function context(dataDir: string): Context {
  const config = parseConfig(cliEnvSchema, process.env);
  const dir = dataDirOf(dataDir);
  return { config, databaseUrl: resolveDatabaseUrl(config.DATABASE_URL, dir), nats: resolveNatsTarget(config, process.env['NATS_URL'] || undefined, dir) };
}

const out = (line: string): void => void process.stdout.write(`${line}\n`);
const err = (line: string): void => void process.stderr.write(`${line}\n`);
const iso = (date: Date | null) => (date ? date.toISOString().replace(/\.\d{3}Z$/, 'Z') : '-');

function keyJson(record: ApiKeyRecord) {
  return {
    key_id: record.keyId,
    tenant: record.tenant,
    admin: record.admin,
    name: record.name,
    created_at: record.createdAt.toISOString(),
    last_used_at: record.lastUsedAt?.toISOString() ?? null,
    revoked_at: record.revokedAt?.toISOString() ?? null,
  };
}

/**
 * `framewire keys create|list|revoke`: API keys, straight in the key store (DATABASE_URL, or the
 * database of a running `framewire start`). A new key is printed once and never again; revoking one
 * also tells every gateway over NATS, so it stops working at once.
 */
export function registerKeysCommand(program: Command): void {
  const keys = program
    .command('keys')
    .description('create, list and revoke API keys')
    .option('--data-dir <dir>', 'the data directory of a running `framewire start`, to find its database', defaultDataDir());

  keys
    .command('create')
    .description('create an API key for a tenant and print it (once)')
    .requiredOption('-t, --tenant <tenant>', 'the tenant whose jobs the key submits and sees', validated(tenantIdSchema))
    .option('--admin', 'the key sees and manages every tenant', false)
    .option('-n, --name <name>', 'a label to recognise the key by', validated(apiKeyNameSchema))
    .option('--json', 'print JSON', false)
    .action(async (opts: { tenant: string; admin: boolean; name?: string; json: boolean }) => {
      const ctx = context(keys.opts<{ dataDir: string }>().dataDir);
      const created = await withKeyStore({ databaseUrl: ctx.databaseUrl, authSchema: ctx.config.AUTH_DATABASE_SCHEMA }, (repo) =>
        repo.create({ tenant: opts.tenant, admin: opts.admin, name: opts.name ?? null }),
      );
      if (opts.json) return out(JSON.stringify({ key: created.key, ...keyJson(created.record) }));
      out(`API key: ${created.key}`);
      out(`  id ${created.record.keyId}, tenant ${created.record.tenant}${created.record.admin ? ', admin' : ''}${created.record.name ? `, "${created.record.name}"` : ''}`);
      out('Store the key now: it is not stored anywhere and cannot be shown again.');
    });

  keys
    .command('list')
    .description('list API keys (never the keys themselves)')
    .option('-t, --tenant <tenant>', 'only this tenant\'s keys', validated(tenantIdSchema))
    .option('-a, --all', 'include revoked keys', false)
    .option('--json', 'print JSON', false)
    .action(async (opts: { tenant?: string; all: boolean; json: boolean }) => {
      const ctx = context(keys.opts<{ dataDir: string }>().dataDir);
      const records = await withKeyStore({ databaseUrl: ctx.databaseUrl, authSchema: ctx.config.AUTH_DATABASE_SCHEMA }, (repo) =>
        repo.list({ ...(opts.tenant ? { tenant: opts.tenant } : {}), includeRevoked: opts.all }),
      );
      if (opts.json) return out(JSON.stringify(records.map(keyJson)));
      if (records.length === 0) return out(opts.all ? 'no keys' : 'no active keys (framewire keys create --tenant <name>)');
      const rows = [
        ['ID', 'TENANT', 'ADMIN', 'CREATED', 'LAST USED', 'REVOKED', 'NAME'],
        ...records.map((r) => [r.keyId, r.tenant, r.admin ? 'yes' : 'no', iso(r.createdAt), iso(r.lastUsedAt), iso(r.revokedAt), r.name ?? '']),
      ];
      const widths = rows[0]!.map((_, i) => Math.max(...rows.map((row) => row[i]!.length)));
      for (const row of rows) out(row.map((cell, i) => cell.padEnd(widths[i]!)).join('  ').trimEnd());
    });

  keys
    .command('revoke')
    .description('revoke an API key for good; gateways drop it at once')
    .argument('<id>', 'the key id (key_…), as `framewire keys list` shows it', validated(apiKeyIdSchema))
    .option('--json', 'print JSON', false)
    .action(async (keyId: string, opts: { json: boolean }) => {
      const ctx = context(keys.opts<{ dataDir: string }>().dataDir);
      const outcome = await withKeyStore({ databaseUrl: ctx.databaseUrl, authSchema: ctx.config.AUTH_DATABASE_SCHEMA }, (repo) => repo.revoke(keyId));
      if (outcome.status === 'not-found') {
        err(`framewire keys revoke: no key ${keyId}`);
        process.exitCode = 1;
        return;
      }
      const notified = await broadcastRevocation(
        { natsUrl: ctx.nats.url, namespace: ctx.config.FRAMEWIRE_NAMESPACE, user: ctx.nats.user, pass: ctx.nats.pass },
        keyId,
      );
      if (opts.json) return out(JSON.stringify({ ...keyJson(outcome.record), status: outcome.status, gateways_notified: notified }));
      out(outcome.status === 'revoked' ? `revoked ${keyId} (tenant ${outcome.record.tenant})` : `${keyId} was already revoked`);
      if (!notified) {
        err(`warning: could not reach NATS at ${ctx.nats.url} to tell the gateways; they stop accepting the key when its cache entry expires (AUTH_CACHE_TTL_MS, 30 s by default)`);
      }
    });
}
