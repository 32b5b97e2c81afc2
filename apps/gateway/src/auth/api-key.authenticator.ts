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
import { JOB_SUBJECTS, NATS_CONNECTION, type NatsConnection } from '@app/nats';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { AuthFailures } from '../limits/auth-failures.js';
import { GatewayMetrics } from '../ops/gateway.metrics.js';
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
    private readonly failures: AuthFailures,
    private readonly metrics: GatewayMetrics,
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
   * The principal for an Authorization header value from `client` (its address, see ClientAddresses),
   * or a 401 UNAUTHENTICATED (503 when the jobs service cannot be asked). Usable outside HTTP guards
   * too, for a WebSocket handshake say.
   *
   * Failed authentications count against the client's budget (AuthFailures), and the budget is
   * checked before anything is looked up: a key cached as valid passes at once; a lookup that is not
   * already under way first takes an attempt, which it gives back if the key turns out valid; a
   * failure that cost no lookup of its own (a malformed key, one known to be unknown) takes one
   * afterwards. Past the budget the answer is 429 and nothing is looked up. A request with no
   * Authorization header at all is a plain 401 and is not counted: it costs nothing, and a dashboard
   * left open before its key is entered must not spend the budget that the key will need.
   */
  async authenticate(authorization: string | undefined, client: string): Promise<Principal> {
    if (!this.enabled) return AUTH_OFF_PRINCIPAL;
    const presented = presentedKey(authorization);
    if (typeof presented !== 'string') {
      if (authorization !== undefined) await this.takeAttempt(client);
      throw presented;
    }
    const hash = hashApiKey(presented);
    const cached = this.cache?.get(hash);
    const pending = cached ? Promise.resolve(cached.principal) : this.inflight.get(hash);
    // Only a new lookup costs the jobs service anything: it needs an attempt left before it starts.
    if (!pending) await this.takeAttempt(client);
    let principal: Principal | null;
    try {
      principal = await (pending ?? this.inflight.get(hash) ?? this.lookup(hash));
    } catch (error) {
      // Not a failed authentication (the jobs service did not answer): the attempt is not counted.
      if (!pending) await this.failures.giveBack(client);
      throw error;
    }
    if (principal) {
      if (!pending) await this.failures.giveBack(client);
      return principal;
    }
    if (pending) await this.takeAttempt(client);
    throw new ApiError(ErrorCode.Unauthenticated, 'unknown or revoked API key', challenge('invalid_token'));
  }

  /**
   * For a route of one job's media: the Authorization header when there is one, else a signed media
   * link to that job (MediaLinks), which acts for the key that asked for it unless that key has
   * been revoked since. A link is checked without a lookup; a bad one counts as a failure of `client`.
   */
  async authenticateForJobMedia(authorization: string | undefined, token: unknown, jobId: string, client: string): Promise<Principal> {
    if (!this.enabled || authorization !== undefined || token === undefined) return this.authenticate(authorization, client);
    return this.authenticateWithMediaLink(token, jobId, client);
  }

  /**
   * A signed media link to `jobId`'s media (MediaLinks), which acts for the key that asked for it
   * unless that key has been revoked since; checked without a lookup, and whatever AUTH_MODE says (a
   * link is only ever issued to a caller the gateway let in). A bad one counts as a failure of `client`.
   */
  async authenticateWithMediaLink(token: unknown, jobId: string, client: string): Promise<Principal> {
    try {
      if (typeof token !== 'string') throw new ApiError(ErrorCode.Unauthenticated, 'one media link token, please', challenge('invalid_request'));
      const principal = this.links.verify(token, jobId);
      if (this.revoked.has(principal.key_id)) throw new ApiError(ErrorCode.Unauthenticated, 'the key that issued this media link was revoked', challenge('invalid_token'));
      return principal;
    } catch (error) {
      if (error instanceof ApiError && error.code === ErrorCode.Unauthenticated) await this.takeAttempt(client);
      throw error;
    }
  }

  private async takeAttempt(client: string): Promise<void> {
    try {
      await this.failures.take(client);
    } catch (error) {
      this.metrics.authThrottled.inc();
      throw error;
    }
  }

  /** Asks the jobs service about a key; requests for the same key meanwhile wait for the same answer. */
  private lookup(hash: string): Promise<Principal | null> {
    const pending = this.ask(hash).finally(() => this.inflight.delete(hash));
    this.inflight.set(hash, pending);
    return pending;
  }

  private async ask(hash: string): Promise<Principal | null> {
    this.metrics.keyLookups.inc();
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

/** The key in an `Authorization: Bearer <key>` header value, or the 401 for a missing or malformed one. */
function presentedKey(authorization: string | undefined): string | ApiError {
  if (authorization === undefined || authorization.trim() === '') {
    return new ApiError(ErrorCode.Unauthenticated, 'this route needs an API key: send "Authorization: Bearer <key>"', challenge());
  }
  const match = /^Bearer +(\S+)$/i.exec(authorization.trim());
  if (!match) return new ApiError(ErrorCode.Unauthenticated, 'the Authorization header must be "Bearer <key>"', challenge('invalid_request'));
  const key = match[1]!;
  if (!isApiKeyFormat(key)) return new ApiError(ErrorCode.Unauthenticated, 'that is not a Framewire API key', challenge('invalid_token'));
  return key;
}

function safeJson(data: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(data));
  } catch {
    return null;
  }
}
