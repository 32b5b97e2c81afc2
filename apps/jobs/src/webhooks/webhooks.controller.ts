import { Controller, Logger, UseInterceptors } from '@nestjs/common';
import { MessagePattern, Payload } from '@nestjs/microservices';
import {
  createWebhookRequestSchema,
  listWebhooksRequestSchema,
  replayWebhookRequestSchema,
  retryDeliveryRequestSchema,
  updateWebhookRequestSchema,
  WebhookCommand,
  webhookDeliveriesRequestSchema,
  webhookRefRequestSchema,
} from '@app/contracts';
import { RpcCorrelationInterceptor } from '@app/rpc';
import { answer } from '../rpc/rpc-answer.js';
import { WebhooksService } from './webhooks.service.js';

/** The webhook requests over request/reply (`<ns>.rpc.webhooks.*`), each with the caller's scope. */
@Controller()
@UseInterceptors(RpcCorrelationInterceptor)
export class WebhooksController {
  private readonly logger = new Logger(WebhooksController.name);

  constructor(private readonly webhooks: WebhooksService) {}

  @MessagePattern(WebhookCommand.Create)
  create(@Payload() payload: unknown) {
    return answer(this.logger, createWebhookRequestSchema, payload, (req) => this.webhooks.create(req));
  }

  @MessagePattern(WebhookCommand.List)
  list(@Payload() payload: unknown) {
    return answer(this.logger, listWebhooksRequestSchema, payload, (req) => this.webhooks.list(req.scope));
  }

  @MessagePattern(WebhookCommand.Get)
  get(@Payload() payload: unknown) {
    return answer(this.logger, webhookRefRequestSchema, payload, (req) => this.webhooks.get(req.id, req.scope));
  }

  @MessagePattern(WebhookCommand.Update)
  update(@Payload() payload: unknown) {
    return answer(this.logger, updateWebhookRequestSchema, payload, (req) => this.webhooks.update(req));
  }

  @MessagePattern(WebhookCommand.Delete)
  delete(@Payload() payload: unknown) {
    return answer(this.logger, webhookRefRequestSchema, payload, (req) => this.webhooks.delete(req.id, req.scope));
  }

  @MessagePattern(WebhookCommand.RotateSecret)
  rotateSecret(@Payload() payload: unknown) {
    return answer(this.logger, webhookRefRequestSchema, payload, (req) => this.webhooks.rotateSecret(req.id, req.scope));
  }

  @MessagePattern(WebhookCommand.Deliveries)
  deliveries(@Payload() payload: unknown) {
    return answer(this.logger, webhookDeliveriesRequestSchema, payload, (req) => this.webhooks.deliveries(req));
  }

  @MessagePattern(WebhookCommand.RetryDelivery)
  retry(@Payload() payload: unknown) {
    return answer(this.logger, retryDeliveryRequestSchema, payload, (req) => this.webhooks.retry(req));
  }

  @MessagePattern(WebhookCommand.Replay)
  replay(@Payload() payload: unknown) {
    return answer(this.logger, replayWebhookRequestSchema, payload, (req) => this.webhooks.replay(req));
  }
}
