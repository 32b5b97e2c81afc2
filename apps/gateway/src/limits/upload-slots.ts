import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';

/**
 * The cap on uploads one key streams at the same time (MAX_CONCURRENT_UPLOADS_PER_KEY, per gateway
 * process). A slot is taken before the body is read and given back when the request ends, however it
 * ends; one more is refused at once with 429 TOO_MANY_UPLOADS.
 */
@Injectable()
export class UploadSlots {
  private readonly active = new Map<string, number>();

  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  /** Takes a slot for `owner`; call the returned function exactly once when the upload is over. */
  acquire(owner: string): () => void {
    const limit = this.config.MAX_CONCURRENT_UPLOADS_PER_KEY;
    const current = this.active.get(owner) ?? 0;
    if (current >= limit) {
      throw new ApiError(ErrorCode.TooManyUploads, `this key already has ${limit} uploads in progress; wait for one to finish`, { 'Retry-After': '1' });
    }
    this.active.set(owner, current + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.active.get(owner) ?? 1) - 1;
      if (left <= 0) this.active.delete(owner);
      else this.active.set(owner, left);
    };
  }

  inProgress(owner: string): number {
    return this.active.get(owner) ?? 0;
  }
}
