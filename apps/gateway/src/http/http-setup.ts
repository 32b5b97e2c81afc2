import type { Server } from 'node:http';
import type { Duplex } from 'node:stream';
import type { CorsOptions } from '@nestjs/common/interfaces/external/cors-options.interface.js';
import type { NestExpressApplication } from '@nestjs/platform-express';
import type { Request } from 'express';
import { isMediaPath } from '../files/media-cors.middleware.js';
import { ErrorCode } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { TUS_REQUEST_HEADERS, TUS_RESPONSE_HEADERS } from '../resumable/tus-headers.js';
import { rawErrorResponse } from './raw-error.js';

/** Request headers a browser may send cross-origin, and response headers it may read. */
const CORS_ALLOWED_HEADERS = ['Authorization', 'Content-Type', 'Idempotency-Key', 'X-Request-Id', ...TUS_REQUEST_HEADERS];
const CORS_EXPOSED_HEADERS = ['Location', 'Retry-After', 'Idempotent-Replayed', 'X-Request-Id', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset', ...TUS_RESPONSE_HEADERS];

/**
 * Everything about the gateway's HTTP server that is not a route or a middleware, in one place so
 * main.ts and the tests build the same server (security headers are a middleware of the gateway
 * module, so every app built from it has them: see security-headers.ts):
 * - CORS only for the origins in CORS_ORIGINS (none by default: browsers on other origins are refused),
 *   except the files a media link in the path opens, which any origin may read (media-cors.middleware.ts);
 * - requests that Node's HTTP parser rejects (a 10 MB header, a malformed request line, a smuggling
 *   attempt) still get a JSON error body;
 * - no overall request deadline (a large upload may take long), but headers must arrive within 30 s.
 */
export function configureHttp(app: NestExpressApplication, config: GatewayConfig): void {
  app.disable('x-powered-by');
  // The same proxies ClientAddresses believes (TRUST_PROXY; none by default), so req.ip agrees with it.
  app.set('trust proxy', config.TRUST_PROXY);
  if (config.CORS_ORIGINS.length > 0) {
    const policy = {
      origin: config.CORS_ORIGINS,
      // PATCH: the resumable uploads' (tus) and the webhooks' changes.
      methods: ['GET', 'HEAD', 'POST', 'PATCH', 'DELETE'],
      allowedHeaders: CORS_ALLOWED_HEADERS,
      exposedHeaders: CORS_EXPOSED_HEADERS,
      credentials: false,
      maxAge: 600,
    };
    // The files a media link in the path opens have their own policy (any origin: MediaCorsMiddleware).
    app.enableCors((req: Request, done: (error: Error | null, options: CorsOptions) => void) => done(null, isMediaPath(req.path) ? { origin: false } : policy));
  }
  const server = app.getHttpServer() as Server;
  server.requestTimeout = 0;
  server.headersTimeout = 30_000;
  server.on('clientError', answerClientError);
}

/**
 * Node's parser refused the request before any route saw it. Answer in the API's JSON error shape,
 * then close without a reset: the rest of what the client sends is read and dropped for a moment,
 * so it gets to read the answer even while it is still sending.
 */
const answered = new WeakSet<Duplex>();

function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  // The parser may report more than one error for the same bytes; the first answer stands, and the
  // socket is left to close on its own (destroying it now would reset the answer away).
  if (answered.has(socket)) return;
  if (!socket.writable || (socket as Duplex & { _httpMessage?: unknown })._httpMessage) {
    socket.destroy();
    return;
  }
  answered.add(socket);
  const [status, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, ErrorCode.HeadersTooLarge, 'the request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT' || error.code === 'ERR_HTTP_HEADERS_TIMEOUT'
        ? [408, ErrorCode.BadRequest, 'the request headers did not arrive in time']
        : [400, ErrorCode.BadRequest, 'malformed HTTP request'];
  socket.end(rawErrorResponse(status, code, message));
  socket.on('data', () => undefined);
  socket.on('error', () => undefined);
  setTimeout(() => socket.destroy(), 2000).unref();
}
