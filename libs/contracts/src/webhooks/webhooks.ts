import { z } from 'zod';
import { jobScopeSchema } from '../auth/api-keys.js';
import type { JobEvent } from '../events/job-events.js';
import { tenantIdSchema } from '../events/job-events.js';
import { rpcReplySchema } from '../queries/rpc-reply.js';
import { jobViewSchema } from '../queries/job-view.js';
import { isCleanText, UNCLEAN_TEXT } from '../text/clean-text.js';

/**
 * Webhooks: endpoints that an integrating app registers, and the signed deliveries the jobs service
 * makes to them from the event log (Standard Webhooks). Endpoints belong to a tenant, like jobs: a
 * tenant's endpoints are called only for its own jobs, and the scope of each request decides which
 * endpoints it may see. The gateway's routes are in apps/gateway/src/webhooks; the jobs service
 * answers the requests below and makes the deliveries.
 */
export const WEBHOOK_EVENT_TYPES = ['job.started', 'job.progress', 'job.completed', 'job.failed', 'job.cancelled'] as const;
export const webhookEventTypeSchema = z.enum(WEBHOOK_EVENT_TYPES);
export type WebhookEventType = z.infer<typeof webhookEventTypeSchema>;

/** What an endpoint hears when it names no events: how each job ended. */
export const DEFAULT_WEBHOOK_EVENTS: readonly WebhookEventType[] = ['job.completed', 'job.failed', 'job.cancelled'];

/**
 * The webhook type of a stored event, or null for events no endpoint hears (the submission, cancel
 * requests, redrives, deletions). A JobFailed is `job.failed` only when the job failed for good: an
 * attempt that failed and will be retried is not the end of the job.
 */
export function webhookEventTypeOf(event: JobEvent): WebhookEventType | null {
  switch (event.type) {
    case 'JobStarted':
      return 'job.started';
    case 'JobProgressed':
      return 'job.progress';
    case 'JobCompleted':
      return 'job.completed';
    case 'JobFailed':
      return event.data.final ? 'job.failed' : null;
    case 'JobCancelled':
      return 'job.cancelled';
    default:
      return null;
  }
}

/** Request/reply patterns of webhooks (answered by the jobs service, which keeps endpoints and deliveries). */
export const WebhookCommand = {
  Create: 'webhooks.create',
  List: 'webhooks.list',
  Get: 'webhooks.get',
  Update: 'webhooks.update',
  Delete: 'webhooks.delete',
  RotateSecret: 'webhooks.rotate_secret',
  Deliveries: 'webhooks.deliveries',
  RetryDelivery: 'webhooks.retry_delivery',
  Replay: 'webhooks.replay',
} as const;

export const WEBHOOK_DESCRIPTION_MAX = 500;
export const WEBHOOK_URL_MAX = 2048;
export const DELIVERIES_LIMIT_DEFAULT = 20;
export const DELIVERIES_LIMIT_MAX = 100;

const webhookIdSchema = z.uuid();
const descriptionSchema = z.string().max(WEBHOOK_DESCRIPTION_MAX).refine(isCleanText, UNCLEAN_TEXT);
/** The URL as text; its scheme and the addresses it resolves to are judged by the jobs service's URL policy. */
const urlTextSchema = z.string().min(1).max(WEBHOOK_URL_MAX);
const eventsSchema = z
  .array(webhookEventTypeSchema)
  .min(1)
  .max(WEBHOOK_EVENT_TYPES.length)
  .transform((events) => [...new Set(events)]);

/** The body of POST /v1/webhooks. `tenant` may be given by an admin key only (default: the key's own tenant). */
export const createWebhookBodySchema = z.strictObject({
  url: urlTextSchema,
  events: eventsSchema.default([...DEFAULT_WEBHOOK_EVENTS]),
  description: descriptionSchema.default(''),
  tenant: tenantIdSchema.optional(),
});
export type CreateWebhookBody = z.infer<typeof createWebhookBodySchema>;

/** The body of PATCH /v1/webhooks/{id}: any of these, at least one. */
export const updateWebhookBodySchema = z
  .strictObject({
    url: urlTextSchema.optional(),
    events: eventsSchema.optional(),
    description: descriptionSchema.optional(),
    enabled: z.boolean().optional(),
  })
  .refine((body) => Object.values(body).some((value) => value !== undefined), 'give at least one of url, events, description, enabled');
export type UpdateWebhookBody = z.infer<typeof updateWebhookBodySchema>;

/**
 * The body of POST /v1/webhooks/{id}/replay: `from` is a stream sequence (`1234` or `seq:1234`) or an
 * ISO 8601 time; every event the log holds from there on, of the endpoint's tenant and types, is sent again.
 */
export const replayWebhookBodySchema = z.strictObject({ from: z.string().min(1).max(64) });

export const webhookEndpointViewSchema = z.object({
  id: webhookIdSchema,
  tenant: z.string(),
  url: z.string(),
  events: z.array(webhookEventTypeSchema),
  description: z.string(),
  /** False when switched off with PATCH, or disabled by Framewire after failing for WEBHOOK_DISABLE_AFTER (3 days). */
  enabled: z.boolean(),
  /** Why the endpoint is disabled (null while enabled, or when a user switched it off). */
  disabled_reason: z.string().nullable(),
  /** Since when every delivery to it has failed (null after a success). */
  failing_since: z.string().nullable(),
  /** Until when the secret before the last rotation still signs beside the new one. */
  previous_secret_expires_at: z.string().nullable(),
  created_at: z.string(),
  updated_at: z.string(),
});
export type WebhookEndpointView = z.infer<typeof webhookEndpointViewSchema>;

/** Shown once, when an endpoint is created or its secret rotated: `whsec_<base64>`. */
export const webhookWithSecretSchema = webhookEndpointViewSchema.extend({ secret: z.string() });
export type WebhookWithSecret = z.infer<typeof webhookWithSecretSchema>;

export const DELIVERY_STATUSES = ['pending', 'delivered', 'failed'] as const;
export const webhookDeliveryViewSchema = z.object({
  /** The `webhook-id` header of every attempt of this delivery. */
  id: z.uuid(),
  endpoint_id: webhookIdSchema,
  event_type: webhookEventTypeSchema,
  event_id: z.uuid(),
  job_id: z.uuid(),
  /** The stream sequence of the event it tells of. */
  stream_seq: z.number().int().positive(),
  status: z.enum(DELIVERY_STATUSES),
  attempts: z.number().int().nonnegative(),
  last_status_code: z.number().int().nullable(),
  last_error: z.string().nullable(),
  next_attempt_at: z.string().nullable(),
  delivered_at: z.string().nullable(),
  created_at: z.string(),
});
export type WebhookDeliveryView = z.infer<typeof webhookDeliveryViewSchema>;

export const webhooksListSchema = z.object({ webhooks: z.array(webhookEndpointViewSchema) });
export const webhookDeliveriesPageSchema = z.object({ deliveries: z.array(webhookDeliveryViewSchema), next_cursor: z.string().nullable() });
export type WebhookDeliveriesPage = z.infer<typeof webhookDeliveriesPageSchema>;

export const webhookReplayOutcomeSchema = z.object({
  /** Deliveries queued again (sent before) or for the first time. */
  queued: z.number().int().nonnegative(),
  /** The stream sequences scanned: from the first at or after `from` to the last one scanned. */
  from_seq: z.number().int().nonnegative(),
  to_seq: z.number().int().nonnegative(),
  /** True when the scan stopped at its limit before the end of the log: replay again from `to_seq + 1`. */
  truncated: z.boolean(),
});
export type WebhookReplayOutcome = z.infer<typeof webhookReplayOutcomeSchema>;

/** The JSON body of every delivery: the job as GET /v1/jobs/{id} showed it right after the event. */
export const webhookPayloadSchema = z.object({
  type: webhookEventTypeSchema,
  /** When the event happened (its occurredAt). */
  timestamp: z.string(),
  data: jobViewSchema,
});
export type WebhookPayload = z.infer<typeof webhookPayloadSchema>;

// RPC requests: each with the caller's scope; an endpoint outside it is answered WEBHOOK_NOT_FOUND.
export const createWebhookRequestSchema = z.object({
  scope: jobScopeSchema,
  tenant: tenantIdSchema,
  url: urlTextSchema,
  events: z.array(webhookEventTypeSchema).min(1),
  description: z.string().max(WEBHOOK_DESCRIPTION_MAX),
});
export type CreateWebhookRequest = z.infer<typeof createWebhookRequestSchema>;
export const webhookRefRequestSchema = z.object({ scope: jobScopeSchema, id: webhookIdSchema });
export type WebhookRefRequest = z.infer<typeof webhookRefRequestSchema>;
export const listWebhooksRequestSchema = z.object({ scope: jobScopeSchema });
export const updateWebhookRequestSchema = webhookRefRequestSchema.extend({
  url: urlTextSchema.optional(),
  events: z.array(webhookEventTypeSchema).min(1).optional(),
  description: z.string().max(WEBHOOK_DESCRIPTION_MAX).optional(),
  enabled: z.boolean().optional(),
});
export type UpdateWebhookRequest = z.infer<typeof updateWebhookRequestSchema>;
export const webhookDeliveriesRequestSchema = webhookRefRequestSchema.extend({
  limit: z.number().int().min(1).max(DELIVERIES_LIMIT_MAX).default(DELIVERIES_LIMIT_DEFAULT),
  cursor: z.string().max(512).optional(),
});
export type WebhookDeliveriesRequest = z.input<typeof webhookDeliveriesRequestSchema>;
export const retryDeliveryRequestSchema = webhookRefRequestSchema.extend({ delivery_id: z.uuid() });
export type RetryDeliveryRequest = z.infer<typeof retryDeliveryRequestSchema>;
export const replayWebhookRequestSchema = webhookRefRequestSchema.extend({ from: z.string().min(1).max(64) });
export type ReplayWebhookRequest = z.infer<typeof replayWebhookRequestSchema>;

export const webhookReplySchema = rpcReplySchema(webhookEndpointViewSchema);
export const webhookWithSecretReplySchema = rpcReplySchema(webhookWithSecretSchema);
export const webhooksListReplySchema = rpcReplySchema(webhooksListSchema);
export const webhookDeletedReplySchema = rpcReplySchema(z.object({ id: webhookIdSchema, deleted: z.literal(true) }));
export const webhookDeliveriesReplySchema = rpcReplySchema(webhookDeliveriesPageSchema);
export const webhookDeliveryReplySchema = rpcReplySchema(webhookDeliveryViewSchema);
export const webhookReplayReplySchema = rpcReplySchema(webhookReplayOutcomeSchema);

/** Where a replay starts: a stream sequence, or the first event stored at or after a time. */
export type ReplayStart = { kind: 'seq'; seq: number } | { kind: 'time'; time: Date };

/** Parses a replay's `from`: `1234`, `seq:1234`, or an ISO 8601 time with its zone. */
export function parseReplayStart(text: string): { ok: true; start: ReplayStart } | { ok: false; reason: string } {
  const seq = /^(?:seq:)?(\d{1,15})$/.exec(text.trim());
  if (seq) return { ok: true, start: { kind: 'seq', seq: Math.max(1, Number(seq[1])) } };
  if (/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/.test(text.trim())) {
    const time = new Date(text.trim());
    if (!Number.isNaN(time.getTime())) return { ok: true, start: { kind: 'time', time } };
  }
  return { ok: false, reason: `"${text.slice(0, 64)}" is neither a stream sequence (1234 or seq:1234) nor an ISO 8601 time with a zone (2026-12-05T10:00:00Z)` };
}
