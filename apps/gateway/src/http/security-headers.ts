import helmet from 'helmet';

/**
 * Security headers on every response (helmet): a strict Content-Security-Policy (same-origin
 * scripts only, no inline script, no framing), nosniff, no referrer across origins, and
 * cross-origin isolation of the window. HSTS is left to whatever terminates TLS in front of the
 * gateway: sent over plain HTTP it means nothing, and behind a proxy it is the proxy's call. The
 * CSP does not upgrade insecure requests, so the dashboard works over plain HTTP on a LAN address.
 */
export const securityHeaders = helmet({
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      // Swagger UI sets inline styles; nothing else needs them.
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
  strictTransportSecurity: false,
  crossOriginEmbedderPolicy: false,
});
