import { z } from 'zod';
import {
  createWebhookBodySchema,
  jobViewSchema,
  replayWebhookBodySchema,
  updateWebhookBodySchema,
  webhookDeliveriesPageSchema,
  webhookDeliveryViewSchema,
  webhookEndpointViewSchema,
  webhookEventTypeSchema,
  webhookReplayOutcomeSchema,
  webhooksListSchema,
  webhookWithSecretSchema,
} from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';
import { deliveriesQuerySchema } from './webhooks.controller.js';

const idParams = z.object({ id: z.uuid().meta({ description: 'The webhook endpoint id' }) });
const deliveryParams = idParams.extend({ deliveryId: z.uuid().meta({ description: 'The delivery id (its `webhook-id` header)' }) });

/** The documentation of /v1/webhooks, and of the deliveries themselves (the document's `webhooks`). */
export function registerWebhooksRoutes({ registry, component, errors, json }: ApiDocs): void {
  const endpoint = component('WebhookEndpoint', webhookEndpointViewSchema, 'A webhook endpoint: where a tenant is told about its jobs');
  const withSecret = component('WebhookEndpointWithSecret', webhookWithSecretSchema, 'An endpoint with its signing secret (`whsec_…`), shown only here');
  const delivery = component('WebhookDelivery', webhookDeliveryViewSchema, 'One event sent to one endpoint, with its attempts');
  const body = (schema: z.ZodType) => ({ required: true, content: { 'application/json': { schema } } });
  const tags = ['webhooks'];

  registry.registerPath({
    method: 'post',
    path: '/v1/webhooks',
    operationId: 'createWebhook',
    tags,
    summary: 'Register a webhook endpoint',
    description:
      'The endpoint is called (Standard Webhooks: signed POSTs) for the events it names of its tenant\'s jobs stored from now on; `events` defaults to the three endings. ' +
      'The URL must be https (http with WEBHOOK_ALLOW_HTTP=1) and its host must not resolve to a loopback, private, link-local or metadata address (400 WEBHOOK_URL_FORBIDDEN; WEBHOOK_ALLOW_PRIVATE_NETWORKS=1 allows all but metadata addresses). ' +
      'An admin key may name another `tenant`. The `secret` is in this answer only.',
    request: { body: body(createWebhookBodySchema) },
    responses: { 201: { ...json('Created', withSecret), headers: z.object({ Location: z.string() }) }, ...errors(400, 403, 413, 415, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhooks',
    operationId: 'listWebhooks',
    tags,
    summary: 'List webhook endpoints',
    description: 'The key\'s tenant\'s endpoints, or every tenant\'s for an admin key, oldest first.',
    responses: { 200: json('The endpoints', webhooksListSchema.extend({ webhooks: endpoint.array() })), ...errors(503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhooks/{id}',
    operationId: 'getWebhook',
    tags,
    summary: 'A webhook endpoint',
    request: { params: idParams },
    responses: { 200: json('The endpoint', endpoint), ...errors(404, 503) },
  });
  registry.registerPath({
    method: 'patch',
    path: '/v1/webhooks/{id}',
    operationId: 'updateWebhook',
    tags,
    summary: 'Change a webhook endpoint',
    description:
      'Any of `url`, `events`, `description`, `enabled`. Event types it starts to hear, and an endpoint enabled again, hear what is stored from now on. ' +
      'Enabling clears a disablement (after 3 days of failures) and sends its pending deliveries.',
    request: { params: idParams, body: body(updateWebhookBodySchema) },
    responses: { 200: json('The endpoint', endpoint), ...errors(400, 404, 413, 415, 503) },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/webhooks/{id}',
    operationId: 'deleteWebhook',
    tags,
    summary: 'Delete a webhook endpoint',
    description: 'Nothing more is sent to it; its deliveries are deleted with it.',
    request: { params: idParams },
    responses: { 200: json('Deleted', z.object({ id: z.uuid(), deleted: z.literal(true) })), ...errors(404, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhooks/{id}/rotate-secret',
    operationId: 'rotateWebhookSecret',
    tags,
    summary: 'Rotate the signing secret',
    description: 'A new secret, in this answer only. The old one signs beside it for 24 hours (two signatures in `webhook-signature`), so receivers can switch without losing a delivery.',
    request: { params: idParams },
    responses: { 200: json('The endpoint with its new secret', withSecret), ...errors(404, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/webhooks/{id}/deliveries',
    operationId: 'listWebhookDeliveries',
    tags,
    summary: 'An endpoint\'s deliveries',
    description: 'Newest event first, with keyset paging: each delivery\'s status, attempts, last status code or error, next attempt and delivery time.',
    request: { params: idParams, query: deliveriesQuerySchema },
    responses: { 200: json('A page of deliveries', webhookDeliveriesPageSchema.extend({ deliveries: delivery.array() })), ...errors(400, 404, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhooks/{id}/deliveries/{deliveryId}/retry',
    operationId: 'retryWebhookDelivery',
    tags,
    summary: 'Send a delivery again',
    description: 'Due at once, with the same `webhook-id`, retried again for up to 24 hours. 409 WEBHOOK_DISABLED while the endpoint is disabled.',
    request: { params: deliveryParams },
    responses: { 202: json('The delivery, due again', delivery), ...errors(404, 409, 503) },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/webhooks/{id}/replay',
    operationId: 'replayWebhook',
    tags,
    summary: 'Send again what the log holds since a point',
    description:
      '`from` is a stream sequence (`1234`, `seq:1234`) or an ISO 8601 time. Every event from there on of the endpoint\'s tenant that it hears is sent (again), each with its delivery\'s own `webhook-id`, in order per job. ' +
      'One request scans at most 50,000 stream sequences; `truncated` says to go on from `to_seq + 1`.',
    request: { params: idParams, body: body(replayWebhookBodySchema) },
    responses: { 202: json('Queued', webhookReplayOutcomeSchema), ...errors(400, 404, 409, 413, 415, 503) },
  });

  registry.registerWebhook({
    method: 'post',
    path: 'job-event',
    operationId: 'receiveJobEvent',
    tags,
    summary: 'A delivery: one event of a job, to each endpoint that hears it',
    description:
      'Standard Webhooks: `webhook-id` (the same for every attempt of one delivery; deduplicate on it), `webhook-timestamp` (seconds), `webhook-signature` ' +
      '(`v1,<base64 HMAC-SHA256 of "id.timestamp.body">`, two space-separated during a secret rotation). Answer 2xx within 10 s. ' +
      'Timeouts, connection errors, 408, 429 and 5xx are retried with exponential backoff and jitter for 24 hours; other 4xx and redirects fail at once. ' +
      'A job\'s events reach one endpoint in stream order.',
    request: {
      headers: z.object({ 'webhook-id': z.string(), 'webhook-timestamp': z.string(), 'webhook-signature': z.string() }),
      body: body(
        z.object({
          type: webhookEventTypeSchema,
          timestamp: z.string().meta({ description: 'When the event happened' }),
          data: jobViewSchema.extend({ result: z.unknown() }).meta({ description: 'The job as GET /v1/jobs/{id} showed it right after the event' }),
        }),
      ),
    },
    responses: {
      200: { description: 'Any 2xx: delivered' },
      '4XX': { description: 'Refused: the delivery fails at once and is not retried, except 408 and 429, which are retried like a 5xx' },
    },
  });
}
