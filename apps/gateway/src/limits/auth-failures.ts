import { Inject, Injectable } from '@nestjs/common';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';

/**
 * The limit on failed authentications per client address (AUTH_FAILURE_LIMIT per
 * AUTH_FAILURE_WINDOW_MS, counted in this gateway process), kept before the key lookup: each lookup
 * of a key the gateway does not know costs a request to the jobs service and a database query, and a
 * made-up key passes the per-key rate limit, which counts only keys that exist.
 *
 * An authentication that may fail takes one attempt from its client's budget before anything is
 * looked up; one that succeeds gives it back, so only failures count and a success resets nothing
 * else (a client with one valid key cannot wash its failures away with it). A request with no key at
 * all is not counted: it costs no lookup. Past the budget the answer is 429 RATE_LIMITED with Retry-After, and nothing is looked up,
 * however many requests arrive at once. What the gateway can confirm without a lookup (a key it
 * has cached as valid, a signed media link) never takes an attempt, so a valid client behind the same
 * address keeps working, and clients at other addresses are not touched.
 */
@Injectable()
export class AuthFailures {
  private readonly limiter: RateLimiterMemory | null;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: Pick<GatewayConfig, 'AUTH_FAILURE_LIMIT' | 'AUTH_FAILURE_WINDOW_MS'>) {
    this.limiter =
      config.AUTH_FAILURE_LIMIT > 0 ? new RateLimiterMemory({ points: config.AUTH_FAILURE_LIMIT, duration: config.AUTH_FAILURE_WINDOW_MS / 1000 }) : null;
  }

  /** Takes one attempt for `client`, or throws 429 RATE_LIMITED when its failures have used them all. */
  async take(client: string): Promise<void> {
    if (!this.limiter) return;
    try {
      await this.limiter.consume(client);
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new ApiError(
        ErrorCode.RateLimited,
        `too many failed authentications from this address: at most ${this.config.AUTH_FAILURE_LIMIT} per ${this.config.AUTH_FAILURE_WINDOW_MS / 1000} s; retry in ${seconds} s`,
        { 'Retry-After': String(seconds) },
      );
    }
  }

  /** Gives back the attempt of an authentication that did not fail. */
  async giveBack(client: string): Promise<void> {
    await this.limiter?.reward(client, 1);
  }
}
