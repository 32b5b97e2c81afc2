import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { z } from 'zod';
import { ErrorCode, principalSchema, type Principal } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { Clock } from '@app/runtime';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';

/** The query parameter that carries a media link's token. */
export const MEDIA_LINK_PARAM = 'token';

const payloadSchema = z.strictObject({
  /** The issuing key's id, tenant and admin flag: a link acts for exactly what its issuer could see. */
  k: principalSchema.shape.key_id,
  t: principalSchema.shape.tenant,
  a: z.boolean(),
  /** Expiry, seconds since the epoch. */
  e: z.number().int().positive(),
});

const b64 = (data: Buffer | string) => Buffer.from(data).toString('base64url');

/**
 * Short-lived signed links to one job's media (its video and artifacts), for what cannot send an
 * Authorization header: a <video> element, a WebSocket in a browser, a download link. An
 * authenticated caller who may see the job asks for a link (POST /v1/jobs/{id}/media-links); the link
 * then works, for that job only and until it expires, as if the caller's key were sent.
 *
 * The token is `<payload>.<signature>`: the payload names the issuing key, its tenant and the expiry;
 * the signature is an HMAC-SHA256 of the job id and the payload with the gateway's secret
 * (MEDIA_LINK_SECRET, or a random one per process when unset: links then work only on the gateway
 * process that issued them). A link stops working early when this gateway hears that its key was
 * revoked; otherwise it lives out its MEDIA_LINK_TTL_MS, which is why that is short.
 */
@Injectable()
export class MediaLinks {
  private readonly logger = new Logger(MediaLinks.name);
  private readonly secret: Buffer;

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
    private readonly clock: Clock,
  ) {
    if (config.MEDIA_LINK_SECRET) {
      this.secret = Buffer.from(config.MEDIA_LINK_SECRET, 'utf8');
    } else {
      this.secret = randomBytes(32);
      this.logger.log('MEDIA_LINK_SECRET is not set: media links work only on this gateway process (set the same secret on every gateway to share them)');
    }
  }

  /** A token for `jobId`'s media, acting for `principal`, and when it expires. */
  issue(principal: Principal, jobId: string): { token: string; expiresAt: Date } {
    const expiresAt = new Date(this.clock.now().getTime() + this.config.MEDIA_LINK_TTL_MS);
    const payload = b64(JSON.stringify({ k: principal.key_id, t: principal.tenant, a: principal.admin, e: Math.ceil(expiresAt.getTime() / 1000) }));
    return { token: `${payload}.${this.sign(jobId, payload)}`, expiresAt };
  }

  /**
   * The principal a token acts for, if it is a valid, unexpired link to `jobId`'s media; otherwise a
   * 401 UNAUTHENTICATED (the same answer for a forged, altered, expired or foreign-job token).
   */
  verify(token: string, jobId: string): Principal {
    const refused = () => new ApiError(ErrorCode.Unauthenticated, 'the media link is invalid or has expired: ask for a new one with POST /v1/jobs/{id}/media-links');
    const [payload, signature, extra] = token.split('.');
    if (!payload || !signature || extra !== undefined || token.length > 1024) throw refused();
    const expected = Buffer.from(this.sign(jobId.toLowerCase(), payload));
    const given = Buffer.from(signature);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw refused();
    let parsed: z.infer<typeof payloadSchema>;
    try {
      parsed = payloadSchema.parse(JSON.parse(Buffer.from(payload, 'base64url').toString('utf8')));
    } catch {
      throw refused();
    }
    if (parsed.e * 1000 <= this.clock.now().getTime()) throw refused();
    return { key_id: parsed.k, tenant: parsed.t, admin: parsed.a, name: 'media link' };
  }

  private sign(jobId: string, payload: string): string {
    return createHmac('sha256', this.secret).update(`framewire-media-link\n${jobId}\n${payload}`).digest('base64url');
  }
}
