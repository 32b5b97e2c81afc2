import { Injectable } from '@nestjs/common';
import {
  ErrorCode,
  scopeOf,
  WebhookCommand,
  webhookDeletedReplySchema,
  webhookDeliveriesReplySchema,
  webhookDeliveryReplySchema,
  webhookReplayReplySchema,
  webhookReplySchema,
  webhooksListReplySchema,
  webhookWithSecretReplySchema,
  type CreateWebhookBody,
  type Principal,
  type UpdateWebhookBody,
} from '@app/contracts';
import { ApiError } from '../http/api-error.js';
import { JobsRpcClient } from '../rpc/jobs-rpc.client.js';

/** How long a replay may take: it scans up to 50,000 stream sequences and stores what they owe. */
const REPLAY_TIMEOUT_MS = 60_000;

/**
 * The webhook requests of a principal, each with its scope (its tenant, or every tenant for an admin
 * key): the jobs service answers an endpoint outside it as one that does not exist.
 */
@Injectable()
export class WebhooksClient {
  constructor(private readonly rpc: JobsRpcClient) {}

  create(principal: Principal, body: CreateWebhookBody) {
    const tenant = body.tenant ?? principal.tenant;
    if (tenant !== principal.tenant && !principal.admin) throw new ApiError(ErrorCode.Forbidden, 'only an admin key may create a webhook for another tenant');
    return this.rpc.send(WebhookCommand.Create, { scope: scopeOf(principal), tenant, url: body.url, events: body.events, description: body.description }, webhookWithSecretReplySchema);
  }

  list(principal: Principal) {
    return this.rpc.send(WebhookCommand.List, { scope: scopeOf(principal) }, webhooksListReplySchema);
  }

  get(principal: Principal, id: string) {
    return this.rpc.send(WebhookCommand.Get, { scope: scopeOf(principal), id }, webhookReplySchema);
  }

  update(principal: Principal, id: string, body: UpdateWebhookBody) {
    return this.rpc.send(WebhookCommand.Update, { scope: scopeOf(principal), id, ...body }, webhookReplySchema);
  }

  delete(principal: Principal, id: string) {
    return this.rpc.send(WebhookCommand.Delete, { scope: scopeOf(principal), id }, webhookDeletedReplySchema);
  }

  rotateSecret(principal: Principal, id: string) {
    return this.rpc.send(WebhookCommand.RotateSecret, { scope: scopeOf(principal), id }, webhookWithSecretReplySchema);
  }

  deliveries(principal: Principal, id: string, page: { limit: number; cursor?: string | undefined }) {
    return this.rpc.send(WebhookCommand.Deliveries, { scope: scopeOf(principal), id, ...page }, webhookDeliveriesReplySchema);
  }

  retry(principal: Principal, id: string, deliveryId: string) {
    return this.rpc.send(WebhookCommand.RetryDelivery, { scope: scopeOf(principal), id, delivery_id: deliveryId }, webhookDeliveryReplySchema);
  }

  replay(principal: Principal, id: string, from: string) {
    return this.rpc.send(WebhookCommand.Replay, { scope: scopeOf(principal), id, from }, webhookReplayReplySchema, REPLAY_TIMEOUT_MS);
  }
}
