import { Injectable, Logger } from '@nestjs/common';
import type { Principal } from '@app/contracts';
import { ApiKeyRepository } from '@app/api-keys';

/** Answers "whose key has this hash?" for the gateway, which has no database of its own. */
@Injectable()
export class KeyVerificationService {
  private readonly logger = new Logger(KeyVerificationService.name);

  constructor(private readonly keys: ApiKeyRepository) {}

  /** The active key's principal, or null for a hash that no active key has (unknown or revoked). */
  async verify(keyHash: string): Promise<Principal | null> {
    const principal = await this.keys.principalByHash(keyHash);
    if (principal) {
      // Last use is bookkeeping for `framewire keys list`; it never delays or fails a verification.
      void this.keys.touch(principal.key_id).catch((error: unknown) => this.logger.warn(`could not record the use of ${principal.key_id}: ${String(error)}`));
    }
    return principal;
  }
}
