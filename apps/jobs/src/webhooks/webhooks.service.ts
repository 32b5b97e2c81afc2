import { Inject, Injectable, Logger } from '@nestjs/common';
import type { JobsConfig } from '@app/config';
import {
  ErrorCode,
  parseReplayStart,
  webhookEventTypeOf,
  type CreateWebhookRequest,
  type JobScope,
  type ReplayWebhookRequest,
  type RetryDeliveryRequest,
  type UpdateWebhookRequest,
  type WebhookDeliveriesPage,
  type WebhookDeliveryView,
  type WebhookEndpointView,
  type WebhookReplayOutcome,
  type WebhookWithSecret,
} from '@app/contracts';
import { EventStore } from '@app/event-store';
import { IdGenerator } from '@app/runtime';
import {
  checkWebhookUrl,
  deliveryView,
  endpointView,
  InvalidDeliveryCursorError,
  newWebhookSecret,
  WebhookRepository,
  type EndpointRecord,
  type NewDelivery,
  type StreamPosition,
  type WebhookUrlPolicy,
} from '@app/webhooks';
import { JOBS_CONFIG } from '../jobs.config.js';
import { QueryError } from '../rpc/rpc-answer.js';
import { deliveriesOwed } from './webhook-deliveries.js';
import { WebhookFanout } from './webhook-fanout.consumer.js';
import { WebhookSender } from './webhook-sender.service.js';

/** Stream sequences one replay request scans at most; a longer range is answered `truncated`, to be continued. */
export const REPLAY_MAX_SPAN = 50_000;
/** Deliveries stored per transaction during a replay. */
const REPLAY_WRITE_BATCH = 500;

/**
 * The webhook requests of the gateway: endpoints (created, listed, changed, deleted, their secret
 * rotated), their deliveries (listed, retried) and replays from the log. Every request carries the
 * caller's scope; an endpoint outside it is answered exactly like one that does not exist.
 */
@Injectable()
export class WebhooksService {
  private readonly logger = new Logger(WebhooksService.name);
  private readonly policy: WebhookUrlPolicy;

  constructor(
    private readonly repository: WebhookRepository,
    private readonly store: EventStore,
    private readonly sender: WebhookSender,
    private readonly fanout: WebhookFanout,
    private readonly ids: IdGenerator,
    @Inject(JOBS_CONFIG) private readonly config: JobsConfig,
  ) {
    this.policy = { allowHttp: config.WEBHOOK_ALLOW_HTTP, allowPrivateNetworks: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS };
  }

  async create(request: CreateWebhookRequest): Promise<WebhookWithSecret> {
    if (request.scope.kind === 'tenant' && request.scope.tenant !== request.tenant) {
      throw new QueryError(ErrorCode.Forbidden, 'only an admin key may create a webhook for another tenant');
    }
    const url = await this.checkUrl(request.url);
    const secret = newWebhookSecret();
    // The endpoint hears the events stored from now on: the stream's last sequence is read before the
    // endpoint is stored, so no event stored after the endpoint can be at or below it.
    const from = await this.streamEnd();
    const endpoint = await this.repository.createEndpoint({ id: this.ids.next(), tenant: request.tenant, url, events: request.events, description: request.description, secret, from });
    this.logger.log({ endpoint: endpoint.id, tenant: endpoint.tenant, events: endpoint.events }, 'webhook endpoint created');
    return { ...endpointView(endpoint), secret };
  }

  async list(scope: JobScope): Promise<{ webhooks: WebhookEndpointView[] }> {
    return { webhooks: (await this.repository.listEndpoints(scope)).map(endpointView) };
  }

  async get(id: string, scope: JobScope): Promise<WebhookEndpointView> {
    return endpointView(await this.require(id, scope));
  }

  async update(request: UpdateWebhookRequest): Promise<WebhookEndpointView> {
    const current = await this.require(request.id, request.scope);
    const url = request.url === undefined ? undefined : await this.checkUrl(request.url);
    const hearsMore = (request.events ?? []).some((type) => !current.events.includes(type)) || (request.enabled === true && !current.enabled);
    // What it starts to hear, it hears from now on: nothing the log stored before is sent to it.
    const from = hearsMore ? await this.streamEnd() : null;
    const updated = await this.repository.updateEndpoint(request.id, request.scope, { url, events: request.events, description: request.description, enabled: request.enabled }, from);
    if (!updated) throw notFound(request.id);
    if (request.enabled === true && !current.enabled) this.sender.wake();
    return endpointView(updated);
  }

  async delete(id: string, scope: JobScope): Promise<{ id: string; deleted: true }> {
    if (!(await this.repository.deleteEndpoint(id, scope))) throw notFound(id);
    this.logger.log({ endpoint: id }, 'webhook endpoint deleted');
    return { id, deleted: true };
  }

  async rotateSecret(id: string, scope: JobScope): Promise<WebhookWithSecret> {
    const secret = newWebhookSecret();
    const rotated = await this.repository.rotateSecret(id, scope, secret, this.config.WEBHOOK_SECRET_GRACE_MS);
    if (!rotated) throw notFound(id);
    return { ...endpointView(rotated), secret };
  }

  async deliveries(request: { id: string; scope: JobScope; limit: number; cursor?: string | undefined }): Promise<WebhookDeliveriesPage> {
    await this.require(request.id, request.scope);
    try {
      const page = await this.repository.deliveriesPage(request.id, request.limit, request.cursor);
      return { deliveries: page.deliveries.map(deliveryView), next_cursor: page.nextCursor };
    } catch (error) {
      if (error instanceof InvalidDeliveryCursorError) throw new QueryError(ErrorCode.InvalidCursor, error.message);
      throw error;
    }
  }

  async retry(request: RetryDeliveryRequest): Promise<WebhookDeliveryView> {
    const endpoint = await this.require(request.id, request.scope);
    if (!endpoint.enabled) throw new QueryError(ErrorCode.WebhookDisabled, `webhook ${endpoint.id} is disabled; enable it first (PATCH enabled: true)`);
    const delivery = await this.repository.retryDelivery(endpoint.id, request.delivery_id);
    if (!delivery) throw new QueryError(ErrorCode.WebhookDeliveryNotFound, `webhook ${endpoint.id} has no delivery ${request.delivery_id}`);
    this.sender.wake();
    return deliveryView(delivery);
  }

  /**
   * Sends again what the log holds from `from` on: every event of the endpoint's tenant that it hears
   * (whether or not it was sent before, and even from before the endpoint existed: the caller asked
   * for it). A delivery that exists is due again with its own id; the others are new. At most
   * REPLAY_MAX_SPAN sequences per request.
   */
  async replay(request: ReplayWebhookRequest): Promise<WebhookReplayOutcome> {
    const parsed = parseReplayStart(request.from);
    if (!parsed.ok) throw new QueryError(ErrorCode.InvalidReplayFrom, parsed.reason);
    const endpoint = await this.require(request.id, request.scope);
    if (!endpoint.enabled) throw new QueryError(ErrorCode.WebhookDisabled, `webhook ${endpoint.id} is disabled; enable it first (PATCH enabled: true)`);
    const lastSeq = await this.store.lastSeq();
    const fromSeq = parsed.start.kind === 'seq' ? parsed.start.seq : ((await this.store.firstSeqSince(parsed.start.time)) ?? lastSeq + 1);
    const toSeq = Math.min(lastSeq, fromSeq + REPLAY_MAX_SPAN - 1);
    const jobs = await this.jobsToReplay(endpoint, fromSeq, toSeq);
    let owed: NewDelivery[] = [];
    let queued = 0;
    for (const [jobId, upTo] of jobs) {
      const history = await this.store.readJob(jobId, 0, Number.MAX_SAFE_INTEGER);
      owed.push(...deliveriesOwed(history, upTo, [{ id: endpoint.id, events: endpoint.events, afterSeq: fromSeq - 1 }], () => this.ids.next()).deliveries);
      if (owed.length >= REPLAY_WRITE_BATCH) {
        queued += await this.repository.requeueDeliveries(owed);
        owed = [];
      }
    }
    queued += await this.repository.requeueDeliveries(owed);
    if (queued > 0) this.sender.wake();
    this.logger.log({ endpoint: endpoint.id, fromSeq, toSeq, queued }, 'webhook replay queued');
    return { queued, from_seq: Math.min(fromSeq, toSeq + 1), to_seq: toSeq, truncated: toSeq < lastSeq };
  }

  /** The endpoint's tenant's jobs with an event it hears in [fromSeq, toSeq], each with its last such sequence. */
  private async jobsToReplay(endpoint: EndpointRecord, fromSeq: number, toSeq: number): Promise<Map<string, number>> {
    const jobs = new Map<string, number>();
    const tenants = new Map<string, string | null>();
    await this.store.readRange(fromSeq, toSeq, async (items) => {
      for (const item of items) {
        if (!item.ok) continue;
        const { event, seq } = item.stored;
        if (event.type === 'VideoSubmitted') tenants.set(event.jobId, event.data.tenant);
        const type = webhookEventTypeOf(event);
        if (!type || !endpoint.events.includes(type)) continue;
        if (!tenants.has(event.jobId)) {
          tenants.set(event.jobId, await this.store.tenantOf(event.jobId));
        }
        if (tenants.get(event.jobId) === endpoint.tenant) jobs.set(event.jobId, seq);
      }
    });
    return jobs;
  }

  /**
   * Where the stream ends now: its last sequence, in this stream (its creation time). The fan-out's
   * consumer is made first, so that every event after this point reaches it.
   */
  private async streamEnd(): Promise<StreamPosition> {
    await this.fanout.ensureConsumer();
    const state = await this.store.streamState();
    return { seq: state.lastSeq, stream: state.identity.created };
  }

  private async require(id: string, scope: JobScope): Promise<EndpointRecord> {
    const endpoint = await this.repository.getEndpoint(id, scope);
    if (!endpoint) throw notFound(id);
    return endpoint;
  }

  /** The URL as it will be called, or a 400 naming what the policy refuses. */
  private async checkUrl(raw: string): Promise<string> {
    const verdict = await checkWebhookUrl(raw, this.policy);
    if (verdict.ok) return verdict.url.toString();
    throw new QueryError(verdict.code === 'forbidden' ? ErrorCode.WebhookUrlForbidden : ErrorCode.InvalidWebhookUrl, verdict.reason);
  }
}

function notFound(id: string): QueryError {
  return new QueryError(ErrorCode.WebhookNotFound, `no webhook ${id}`);
}
