import { Controller, Logger, UseInterceptors } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import { KeyQuery, verifyKeyRequestSchema } from '@app/contracts';
import { RpcCorrelationInterceptor } from '@app/rpc';
import { answer } from '../rpc/rpc-answer.js';
import { KeyVerificationService } from './key-verification.service.js';

/** `keys.verify` over request/reply: a key's SHA-256 in, its principal (or null) out. The key itself never travels. */
@Controller()
@UseInterceptors(RpcCorrelationInterceptor)
export class KeyVerificationController {
  private readonly logger = new Logger(KeyVerificationController.name);

  constructor(private readonly keys: KeyVerificationService) {}

  @MessagePattern(KeyQuery.Verify)
  verify(@Payload() payload: unknown) {
    return answer(this.logger, verifyKeyRequestSchema, payload, async (req) => ({ principal: await this.keys.verify(req.key_hash) }));
  }
}
