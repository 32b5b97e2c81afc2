import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import type { AuthenticatedRequest, Principal } from '../auth/principal.js';
import { ApiError } from '../http/api-error.js';
import { ClientAddresses } from '../http/client-address.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { limitOwner } from './key-slots.js';

/**
 * The per-key request limit: RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_MS for each API key (each
 * client address when AUTH_MODE=off), counted in this gateway process. Over it, 429 RATE_LIMITED with
 * Retry-After. Runs after the auth guard; public routes are not counted. Every counted response
 * carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly limiter: RateLimiterMemory | null;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly addresses: ClientAddresses,
  ) {
    this.limiter =
      config.RATE_LIMIT_REQUESTS > 0
        ? new RateLimiterMemory({ points: config.RATE_LIMIT_REQUESTS, duration: config.RATE_LIMIT_WINDOW_MS / 1000 })
        : null;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.limiter || context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!req.principal) return true; // a public route
    const res = context.switchToHttp().getResponse<Response>();
    const headers = await this.take(req.principal, this.addresses.of(req));
    for (const [name, value] of Object.entries(headers)) res.setHeader(name, value);
    return true;
  }

  /**
   * Counts one request of `principal` (from `client`, as ClientAddresses gives it) against its owner's
   * budget (see limitOwner): the RateLimit-* headers to send, or a 429 RATE_LIMITED that carries them
   * and Retry-After. Also for what guards do not see (a WebSocket handshake).
   */
  async take(principal: Principal, client: string): Promise<Record<string, string>> {
    if (!this.limiter) return {};
    try {
      return this.describe(await this.limiter.consume(limitOwner(this.config.AUTH_MODE, principal, client)));
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new ApiError(ErrorCode.RateLimited, `too many requests for this key: at most ${this.config.RATE_LIMIT_REQUESTS} per ${this.config.RATE_LIMIT_WINDOW_MS / 1000} s; retry in ${seconds} s`, {
        ...this.describe(rejection),
        'Retry-After': String(seconds),
      });
    }
  }

  private describe(state: RateLimiterRes): Record<string, string> {
    return {
      'RateLimit-Limit': String(this.config.RATE_LIMIT_REQUESTS),
      'RateLimit-Remaining': String(Math.max(0, state.remainingPoints)),
      'RateLimit-Reset': String(Math.ceil(state.msBeforeNext / 1000)),
    };
  }
}
