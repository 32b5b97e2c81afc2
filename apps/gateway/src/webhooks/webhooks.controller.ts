import { Body, Controller, Delete, Get, HttpCode, Param, Patch, Post, Query, Req, Res, UseGuards } from '@nestjs/common';
import type { Request, Response } from 'express';
import { z } from 'zod';
import {
  createWebhookBodySchema,
  DELIVERIES_LIMIT_DEFAULT,
  DELIVERIES_LIMIT_MAX,
  ErrorCode,
  replayWebhookBodySchema,
  updateWebhookBodySchema,
} from '@app/contracts';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { ApiError } from '../http/api-error.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';
import { parseQuery } from '../http/route-params.js';
import { WebhooksClient } from './webhooks.client.js';

export const deliveriesQuerySchema = z.strictObject({
  limit: z.coerce.number().int().min(1).max(DELIVERIES_LIMIT_MAX).default(DELIVERIES_LIMIT_DEFAULT),
  cursor: z.string().min(1).max(512).optional(),
});

const idSchema = z.uuid();

/** An endpoint or delivery id is a UUID; anything else is 404, like an id that does not exist. */
function parseId(id: string, what: 'webhook' | 'delivery'): string {
  if (idSchema.safeParse(id).success) return id.toLowerCase();
  throw what === 'webhook'
    ? new ApiError(ErrorCode.WebhookNotFound, `no webhook ${id.slice(0, 64)}`)
    : new ApiError(ErrorCode.WebhookDeliveryNotFound, `no delivery ${id.slice(0, 64)}`);
}

/** A JSON body: 415 for another content type, 400 VALIDATION_FAILED when it does not match the schema. */
function parseBody<S extends z.ZodType>(schema: S, req: Request, body: unknown): z.output<S> {
  if (!req.is('application/json')) throw new ApiError(ErrorCode.UnsupportedContentType, 'the body must be application/json');
  return parseQuery(schema, body);
}

/**
 * Webhook endpoints and their deliveries (docs/webhooks.md): tenant-scoped like jobs, and an admin
 * key sees every tenant's. The jobs service keeps them and makes the deliveries.
 */
@Controller('v1/webhooks')
@UseGuards(NatsAvailableGuard)
export class WebhooksController {
  constructor(private readonly webhooks: WebhooksClient) {}

  @Post()
  @HttpCode(201)
  async create(@CurrentPrincipal() principal: Principal, @Req() req: Request, @Body() body: unknown, @Res({ passthrough: true }) res: Response) {
    const created = await this.webhooks.create(principal, parseBody(createWebhookBodySchema, req, body));
    res.location(`/v1/webhooks/${created.id}`);
    return created;
  }

  @Get()
  list(@CurrentPrincipal() principal: Principal) {
    return this.webhooks.list(principal);
  }

  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.webhooks.get(principal, parseId(id, 'webhook'));
  }

  @Patch(':id')
  update(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Req() req: Request, @Body() body: unknown) {
    const webhookId = parseId(id, 'webhook');
    return this.webhooks.update(principal, webhookId, parseBody(updateWebhookBodySchema, req, body));
  }

  @Delete(':id')
  delete(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.webhooks.delete(principal, parseId(id, 'webhook'));
  }

  /** A new secret, shown once; the old one signs beside it for WEBHOOK_SECRET_GRACE_MS (24 h). */
  @Post(':id/rotate-secret')
  @HttpCode(200)
  rotateSecret(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.webhooks.rotateSecret(principal, parseId(id, 'webhook'));
  }

  @Get(':id/deliveries')
  deliveries(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Query() query: Record<string, unknown>) {
    return this.webhooks.deliveries(principal, parseId(id, 'webhook'), parseQuery(deliveriesQuerySchema, query));
  }

  @Post(':id/deliveries/:deliveryId/retry')
  @HttpCode(202)
  retry(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Param('deliveryId') deliveryId: string) {
    return this.webhooks.retry(principal, parseId(id, 'webhook'), parseId(deliveryId, 'delivery'));
  }

  @Post(':id/replay')
  @HttpCode(202)
  replay(@CurrentPrincipal() principal: Principal, @Param('id') id: string, @Req() req: Request, @Body() body: unknown) {
    const webhookId = parseId(id, 'webhook');
    return this.webhooks.replay(principal, webhookId, parseBody(replayWebhookBodySchema, req, body).from);
  }
}
