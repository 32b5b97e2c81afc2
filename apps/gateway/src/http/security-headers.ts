import { Inject, Injectable, type NestMiddleware } from '@nestjs/common';
import type { NextFunction, Request, RequestHandler, Response } from 'express';
import helmet from 'helmet';
import type { GatewayConfig } from '@app/config';
import { GATEWAY_CONFIG } from '../gateway.config.js';

/**
 * Security headers on every response, the API's, the dashboard's and the docs' (helmet), set in this
 * one place:
 * - a strict Content-Security-Policy: same-origin scripts only and no inline script (the docs' init
 *   script is a file for that reason), inline styles only because Swagger UI sets them, media and
 *   images from this origin (and blob:/data:), no plugins, no framing (`frame-ancestors 'none'`,
 *   matched by `X-Frame-Options: DENY` for old browsers);
 * - nosniff, no Referer at all (a job id in a URL never leaks to another site), cross-origin
 *   isolation of the window, and a Cross-Origin-Resource-Policy that opens to other origins only
 *   when CORS_ORIGINS lists some.
 * HSTS is left to whatever terminates TLS in front of the gateway: sent over plain HTTP it means
 * nothing, and behind a proxy it is the proxy's call. The CSP does not upgrade insecure requests, so
 * the dashboard works over plain HTTP on a laptop or a LAN address. Caching headers are each route's
 * own (the dashboard's index is `no-cache`, its hashed assets immutable; API answers are not cached).
 */
export function securityHeaders(config: Pick<GatewayConfig, 'CORS_ORIGINS'>): RequestHandler {
  return helmet({
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        mediaSrc: ["'self'", 'blob:'],
        connectSrc: ["'self'"],
        fontSrc: ["'self'", 'data:'],
        objectSrc: ["'none'"],
        baseUri: ["'self'"],
        formAction: ["'self'"],
        frameAncestors: ["'none'"],
      },
    },
    frameguard: { action: 'deny' },
    referrerPolicy: { policy: 'no-referrer' },
    crossOriginResourcePolicy: { policy: config.CORS_ORIGINS.length > 0 ? 'cross-origin' : 'same-origin' },
    strictTransportSecurity: false,
    crossOriginEmbedderPolicy: false,
  });
}

/** securityHeaders as the gateway module's first middleware, so every app built from the module has them. */
@Injectable()
export class SecurityHeadersMiddleware implements NestMiddleware {
  private readonly handler: RequestHandler;

  constructor(@Inject(GATEWAY_CONFIG) config: GatewayConfig) {
    this.handler = securityHeaders(config);
  }

  use(req: Request, res: Response, next: NextFunction): void {
    this.handler(req, res, next);
  }
}
