import { createParamDecorator, type ExecutionContext } from '@nestjs/common';
import type { Request } from 'express';
import type { Principal } from '@app/contracts';

export type { Principal };

/** The request as the auth guard leaves it: who it acts for. */
export interface AuthenticatedRequest extends Request {
  principal?: Principal;
}

/** The principal of a request that passed the auth guard. */
export function principalOf(req: Request): Principal {
  const principal = (req as AuthenticatedRequest).principal;
  // Only a route marked @Public() can get here without one, and such a route must not ask for it.
  if (!principal) throw new Error(`no principal on ${req.method} ${req.path}: a @Public() route asked who is calling`);
  return principal;
}

/** `@CurrentPrincipal() principal: Principal` in a controller method. */
export const CurrentPrincipal = createParamDecorator((_data: unknown, ctx: ExecutionContext): Principal => principalOf(ctx.switchToHttp().getRequest<Request>()));
