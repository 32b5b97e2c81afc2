import { type CanActivate, Injectable } from '@nestjs/common';
import { ErrorCode } from '@app/contracts';
import { NatsAvailability } from '@app/nats';
import { ApiError } from './api-error.js';

/**
 * Every API route needs NATS (uploads go to the Object Store, reads to the jobs service over NATS).
 * While the connection is down, answer 503 at once, before reading a byte of an upload, instead of
 * letting the request wait for a timeout. The connection reconnects by itself.
 */
@Injectable()
export class NatsAvailableGuard implements CanActivate {
  constructor(private readonly nats: NatsAvailability) {}

  canActivate(): boolean {
    if (!this.nats.available) {
      throw new ApiError(ErrorCode.ServiceUnavailable, 'NATS is unreachable; try again shortly', { 'Retry-After': '1' });
    }
    return true;
  }
}
