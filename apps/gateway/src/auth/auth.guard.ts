import { type CanActivate, type ExecutionContext, Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ErrorCode } from '@app/contracts';
import { ApiError } from '../http/api-error.js';
import { ClientAddresses } from '../http/client-address.js';
import { ApiKeyAuthenticator } from './api-key.authenticator.js';
import type { AuthenticatedRequest } from './principal.js';
import { MEDIA_LINK_PARAM } from './media-links.js';
import { ACCEPTS_MEDIA_LINK, ROUTE_ACCESS, type RouteAccess } from './route-access.decorator.js';

/**
 * Runs before every HTTP route (a global guard): a route needs an API key unless it is marked
 * @Public(), and an admin key if it is marked @AdminOnly(); a route of a job's media marked
 * @AcceptsMediaLink() also takes a signed link to that job instead of a key, and one marked
 * @MediaLinkInPath() takes only the link in its path. The principal is left
 * on the request for the route, the rate limit and the upload cap.
 */
@Injectable()
export class AuthGuard implements CanActivate {
  constructor(
    private readonly reflector: Reflector,
    private readonly authenticator: ApiKeyAuthenticator,
    private readonly addresses: ClientAddresses,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (context.getType() === 'ws') {
      // A WebSocket is authenticated once, at its handshake (ApiKeyAuthenticator.authenticate), which
      // leaves the principal on the client; a message on a socket without one is refused.
      return Boolean(context.switchToWs().getClient<{ principal?: unknown }>()?.principal);
    }
    if (context.getType() !== 'http') return true;
    const access = this.reflector.getAllAndOverride<RouteAccess | undefined>(ROUTE_ACCESS, [context.getHandler(), context.getClass()]);
    if (access === 'public') return true;
    const req = context.switchToHttp().getRequest<AuthenticatedRequest>();
    if (access === 'media-link') {
      // The token in the path, whatever else the request carries (a key, a ?token=): see MediaLinkInPath.
      req.principal = await this.authenticator.authenticateWithMediaLink(req.params['token'], String(req.params['id'] ?? ''), this.addresses.of(req));
      return true;
    }
    const acceptsLink = this.reflector.getAllAndOverride<boolean | undefined>(ACCEPTS_MEDIA_LINK, [context.getHandler(), context.getClass()]);
    const client = this.addresses.of(req);
    const principal = acceptsLink
      ? await this.authenticator.authenticateForJobMedia(req.headers.authorization, req.query[MEDIA_LINK_PARAM], String(req.params['id'] ?? ''), client)
      : await this.authenticator.authenticate(req.headers.authorization, client);
    req.principal = principal;
    if (access === 'admin' && !principal.admin) throw new ApiError(ErrorCode.Forbidden, 'this route needs an admin key');
    return true;
  }
}
