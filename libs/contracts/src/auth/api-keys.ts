import { createHash } from 'node:crypto';
import { z } from 'zod';
import { tenantIdSchema } from '../events/job-events.js';
import { rpcReplySchema } from '../queries/rpc-reply.js';

/**
 * API keys and who a request acts for.
 *
 * A key is `fwk_` followed by 43 base64url characters (32 random bytes). Only its SHA-256 is stored
 * and only the hash travels between services: a random 256-bit secret needs no slow password hash,
 * and a leaked table or a sniffed request/reply cannot be turned back into a key.
 */
export const API_KEY_PATTERN = /^fwk_[A-Za-z0-9_-]{43}$/;
/** The public id of a key, as `framewire keys list` shows it and `framewire keys revoke` takes it. */
export const API_KEY_ID_PATTERN = /^key_[0-9a-f]{12}$/;

export const apiKeyIdSchema = z.string().regex(API_KEY_ID_PATTERN, 'must be "key_" and 12 hex digits');
export const apiKeyHashSchema = z.string().regex(/^[0-9a-f]{64}$/, 'must be a hex SHA-256');
export const apiKeyNameSchema = z.string().min(1).max(100).regex(/^[\x20-\x7e]+$/, 'must be printable ASCII');

export function isApiKeyFormat(value: string): boolean {
  return API_KEY_PATTERN.test(value);
}

/** The stored and transmitted form of a key. */
export function hashApiKey(key: string): string {
  return createHash('sha256').update(key, 'utf8').digest('hex');
}

/** Who a request acts for: the key that authenticated it, its tenant, and whether it may see every tenant. */
export const principalSchema = z.object({
  key_id: z.string().min(1).max(64),
  tenant: tenantIdSchema,
  admin: z.boolean(),
  name: z.string().max(100).nullable(),
});
export type Principal = z.infer<typeof principalSchema>;

/**
 * Which jobs a query may see. Every job query carries one and the jobs service applies it, so a route
 * cannot forget tenant isolation: the field is required, and `all` must be chosen explicitly.
 */
export const jobScopeSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('tenant'), tenant: tenantIdSchema }),
  z.object({ kind: z.literal('all') }),
]);
export type JobScope = z.infer<typeof jobScopeSchema>;

/** Admin keys see every tenant; any other key sees only its own tenant's jobs. */
export function scopeOf(principal: Principal): JobScope {
  return principal.admin ? { kind: 'all' } : { kind: 'tenant', tenant: principal.tenant };
}

/** True when a job owned by `tenant` is visible in `scope`. */
export function inScope(scope: JobScope, tenant: string): boolean {
  return scope.kind === 'all' || scope.tenant === tenant;
}

/** Request/reply patterns of the key service (answered by the jobs service, which owns the keys table). */
export const KeyQuery = {
  Verify: 'keys.verify',
} as const;

export const verifyKeyRequestSchema = z.object({ key_hash: apiKeyHashSchema });
export type VerifyKeyRequest = z.infer<typeof verifyKeyRequestSchema>;
/** The key's principal, or null when no active key has that hash (unknown or revoked). */
export const verifyKeyReplySchema = rpcReplySchema(z.object({ principal: principalSchema.nullable() }));
export type VerifyKeyReply = z.infer<typeof verifyKeyReplySchema>;

/** Broadcast on `<ns>.auth.keys.revoked` (core NATS) when a key is revoked, so every gateway drops it at once. */
export const keyRevokedMessageSchema = z.object({ key_id: apiKeyIdSchema });
export type KeyRevokedMessage = z.infer<typeof keyRevokedMessageSchema>;
