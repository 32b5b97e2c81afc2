import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnModuleDestroy } from '@nestjs/common';
import { LRUCache } from 'lru-cache';
import {
  DEFAULT_TENANT,
  ErrorCode,
  hashApiKey,
  isApiKeyFormat,
  KeyQuery,
  keyRevokedMessageSchema,
  verifyKeyReplySchema,
  type JobSubjects,
  type Principal,
} from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { JOB_SUBJECTS, NATS_CONNECTION, type NatsConnection } from '@app/event-store';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { JobsRpcClient } from '../rpc/jobs-rpc.client.js';
import { MediaLinks } from './media-links.js';

/** Unknown keys are remembered briefly, so a flood of one bad key does not become a flood of lookups. */
const NEGATIVE_TTL_MS = 5_000;
const CACHE_ENTRIES = 10_000;

/** Who every request acts for when AUTH_MODE=off: an admin of the default tenant. */
const AUTH_OFF_PRINCIPAL: Principal = { key_id: 'auth-off', tenant: DEFAULT_TENANT, admin: true, name: 'AUTH_MODE=off' };

const challenge = (error?: string) => ({ 'WWW-Authenticate': `Bearer realm="framewire"${error ? `, error="${error}"` : ''}` });

/**
 * Turns an `Authorization: Bearer <key>` header into a principal. The gateway has no database: it
 * asks the jobs service, sending only the key's SHA-256, and keeps the answer for AUTH_CACHE_TTL_MS.
 * A revocation is broadcast on core NATS (`<ns>.auth.keys.revoked`) and evicts the key at once; after
 * a reconnect, when a broadcast may have been missed, the whole cache is dropped.
 */
@Injectable()
export class ApiKeyAuthenticator implements OnApplicationBootstrap, OnModuleDestroy {
  private readonly logger = new Logger('Auth');
  private readonly cache: LRUCache<string, { principal: Principal | null }> | null;
  private readonly inflight = new Map<string, Promise<Principal | null>>();
  /** Keys revoked lately: an answer that was in flight when the revocation came is not trusted. */
  private readonly revoked: LRUCache<string, true>;
  private subscription: { unsubscribe(): void } | null = null;

  constructor(
    private readonly rpc: JobsRpcClient,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(JOB_SUBJECTS) private readonly subjects: JobSubjects,
    private readonly links: MediaLinks,
  ) {
    const ttl = config.AUTH_CACHE_TTL_MS;
    this.cache = ttl > 0 ? new LRUCache({ max: CACHE_ENTRIES, ttl }) : null;
    // Long enough to outlive every cached answer and every media link issued before the revocation.
    this.revoked = new LRUCache({ max: CACHE_ENTRIES, ttl: Math.max(ttl, config.MEDIA_LINK_TTL_MS, 60_000) });
  }

  get enabled(): boolean {
    return this.config.AUTH_MODE === 'keys';
  }

  onApplicationBootstrap(): void {
    if (!this.enabled) {
      const line = '*'.repeat(78);
      this.logger.warn(line);
      this.logger.warn('AUTH_MODE=off: API keys are NOT checked. Anyone who can reach this port is an admin of every tenant.');
      this.logger.warn('This is a development setting. Unset AUTH_MODE (or set AUTH_MODE=keys) for anything else.');
      this.logger.warn(line);
      return;
    }
    const sub = this.nc.subscribe(this.subjects.keyRevoked, {
      callback: (error, msg) => {
        if (error) return this.logger.error(`revocation feed failed: ${error.message}`);
        const parsed = keyRevokedMessageSchema.safeParse(safeJson(msg.data));
        if (!parsed.success) return this.logger.warn('ignored a malformed revocation message');
        this.evict(parsed.data.key_id);
      },
    });
    this.subscription = sub;
    void this.dropCacheOnReconnect();
  }

  onModuleDestroy(): void {
    this.subscription?.unsubscribe();
  }

  /**
   * The principal for an Authorization header value, or a 401 UNAUTHENTICATED (503 when the jobs
   * service cannot be asked). Usable outside HTTP guards too, for a WebSocket handshake say.
   */
  async authenticate(authorization: string | undefined): Promise<Principal> {
    if (!this.enabled) return AUTH_OFF_PRINCIPAL;
    if (authorization === undefined || authorization.trim() === '') {
      throw new ApiError(ErrorCode.Unauthenticated, 'this route needs an API key: send "Authorization: Bearer <key>"', challenge());
    }
    const match = /^Bearer +(\S+)$/i.exec(authorization.trim());
    if (!match) {
      throw new ApiError(ErrorCode.Unauthenticated, 'the Authorization header must be "Bearer <key>"', challenge('invalid_request'));
    }
    const key = match[1]!;
    if (!isApiKeyFormat(key)) throw new ApiError(ErrorCode.Unauthenticated, 'that is not a Framewire API key', challenge('invalid_token'));
    const principal = await this.lookup(hashApiKey(key));
    if (!principal) throw new ApiError(ErrorCode.Unauthenticated, 'unknown or revoked API key', challenge('invalid_token'));
    return principal;
  }

  /**
   * For a route of one job's media: the Authorization header when there is one, else a signed media
   * link to that job (MediaLinks), which acts for the key that asked for it unless that key has
   * been revoked since.
   */
  async authenticateForJobMedia(authorization: string | undefined, token: unknown, jobId: string): Promise<Principal> {
    if (!this.enabled || authorization !== undefined || token === undefined) return this.authenticate(authorization);
    if (typeof token !== 'string') throw new ApiError(ErrorCode.Unauthenticated, 'one media link token, please', challenge('invalid_request'));
    const principal = this.links.verify(token, jobId);
    if (this.revoked.has(principal.key_id)) throw new ApiError(ErrorCode.Unauthenticated, 'the key that issued this media link was revoked', challenge('invalid_token'));
    return principal;
  }

  private async lookup(hash: string): Promise<Principal | null> {
    const cached = this.cache?.get(hash);
    if (cached) return cached.principal;
    let pending = this.inflight.get(hash);
    if (!pending) {
      pending = this.ask(hash).finally(() => this.inflight.delete(hash));
      this.inflight.set(hash, pending);
    }
    return pending;
  }

  private async ask(hash: string): Promise<Principal | null> {
    const { principal } = await this.rpc.send(KeyQuery.Verify, { key_hash: hash }, verifyKeyReplySchema);
    if (principal && this.revoked.has(principal.key_id)) return null;
    this.cache?.set(hash, { principal }, principal ? {} : { ttl: Math.min(NEGATIVE_TTL_MS, this.config.AUTH_CACHE_TTL_MS) });
    return principal;
  }

  /** Forgets a revoked key everywhere in this process. */
  evict(keyId: string): void {
    this.revoked.set(keyId, true);
    if (!this.cache) return;
    for (const [hash, entry] of this.cache.entries()) {
      if (entry.principal?.key_id === keyId) this.cache.delete(hash);
    }
    this.logger.log(`key ${keyId} revoked: dropped from the cache`);
  }

  private async dropCacheOnReconnect(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'reconnect') {
        this.cache?.clear();
        this.logger.warn('reconnected to NATS: dropped the key cache (a revocation may have been missed)');
      }
    }
  }
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
}
