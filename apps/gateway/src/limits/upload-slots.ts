import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { KeySlots } from './key-slots.js';

/**
 * The cap on uploads one key streams at the same time (MAX_CONCURRENT_UPLOADS_PER_KEY, per gateway
 * process; per client address with AUTH_MODE=off). A slot is taken before the body is read and given
 * back when the request ends, however it ends; one more is refused at once with 429 TOO_MANY_UPLOADS.
 */
@Injectable()
export class UploadSlots extends KeySlots {
  constructor(@Inject(GATEWAY_CONFIG) config: Pick<GatewayConfig, 'MAX_CONCURRENT_UPLOADS_PER_KEY' | 'AUTH_MODE'>) {
    super({
      authMode: config.AUTH_MODE,
      limit: config.MAX_CONCURRENT_UPLOADS_PER_KEY,
      refusal: (limit) => new ApiError(ErrorCode.TooManyUploads, `this key already has ${limit} uploads in progress; wait for one to finish`, { 'Retry-After': '1' }),
    });
  }
}
