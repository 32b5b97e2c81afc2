import { type CanActivate, type ExecutionContext, Inject, Injectable } from '@nestjs/common';
import type { Response } from 'express';
import { RateLimiterMemory, RateLimiterRes } from 'rate-limiter-flexible';
import { ErrorCode } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import type { AuthenticatedRequest } from '../auth/principal.js';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';

/**
 * The per-key request limit: RATE_LIMIT_REQUESTS per RATE_LIMIT_WINDOW_MS for each API key (each
 * client address when AUTH_MODE=off), counted in this gateway process. Over it, 429 RATE_LIMITED with
 * Retry-After. Runs after the auth guard; public routes are not counted. Every counted response
 * carries RateLimit-Limit, RateLimit-Remaining and RateLimit-Reset.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private readonly limiter: RateLimiterMemory | null;

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {
    this.limiter =
      config.RATE_LIMIT_REQUESTS > 0
        ? new RateLimiterMemory({ points: config.RATE_LIMIT_REQUESTS, duration: config.RATE_LIMIT_WINDOW_MS / 1000 })
        : null;
  }

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (!this.limiter || context.getType() !== 'http') return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (!req.principal) return true; // a public route
    const who = this.config.AUTH_MODE === 'off' ? `ip:${req.ip}` : `key:${req.principal.key_id}`;
    const res = context.switchToHttp().getResponse<Response>();
    try {
      const state = await this.limiter.consume(who);
      this.describe(res, state);
      return true;
    } catch (rejection) {
      if (!(rejection instanceof RateLimiterRes)) throw rejection;
      this.describe(res, rejection);
      const seconds = Math.max(1, Math.ceil(rejection.msBeforeNext / 1000));
      throw new ApiError(ErrorCode.RateLimited, `too many requests for this key: at most ${this.config.RATE_LIMIT_REQUESTS} per ${this.config.RATE_LIMIT_WINDOW_MS / 1000} s; retry in ${seconds} s`, {
        'Retry-After': String(seconds),
      });
    }
  }

  private describe(res: Response, state: RateLimiterRes): void {
    res.setHeader('RateLimit-Limit', String(this.config.RATE_LIMIT_REQUESTS));
    res.setHeader('RateLimit-Remaining', String(Math.max(0, state.remainingPoints)));
    res.setHeader('RateLimit-Reset', String(Math.ceil(state.msBeforeNext / 1000)));
  }
}
