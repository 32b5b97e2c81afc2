import { Inject, Injectable, Logger, type BeforeApplicationShutdown, type OnApplicationBootstrap } from '@nestjs/common';
import type { JobsConfig } from '@app/config';
import { tracingActive } from '@app/observability';
import {
  createWebhookAgents,
  nextAttemptAt,
  postWebhook,
  postWebhookInSpan,
  webhookHeaders,
  WebhookRepository,
  type AttemptRecord,
  type ClaimedDelivery,
  type PostOutcome,
  type RetrySchedule,
  type WebhookRequest,
  type WebhookUrlPolicy,
} from '@app/webhooks';
import { JOBS_CONFIG } from '../jobs.config.js';
import { WebhookMetrics } from './webhook.metrics.js';

/** How often an idle sender looks for deliveries that came due (retries, and those another instance stored). */
const IDLE_POLL_MS = 1000;
/** While attempts are in flight and fewer than this many slots are free, a claim first waits CLAIM_COALESCE_MS. */
const CLAIM_BATCH = 8;
const CLAIM_COALESCE_MS = 3;
/** After a failed claim (PostgreSQL away), the wait before the next. */
const CLAIM_RETRY_MS = 2000;
/** How long shutdown waits for attempts in flight before handing their leases back. */
const SHUTDOWN_GRACE_MS = 2000;
/**
 * A lease outlives the attempt's timeout by this much, so that a live instance rarely loses one (only
 * when recording the outcome takes longer: then the delivery may be sent twice, which at least once
 * allows). A crashed instance's deliveries are sent again this long after their attempt's timeout.
 */
const LEASE_MARGIN_MS = 5_000;

/**
 * Sends the stored deliveries. It claims due ones in PostgreSQL (a lease, so several jobs service
 * instances share the work and a dead one's deliveries come back), signs each (Standard Webhooks,
 * with every secret that is valid), posts it under the URL policy (checked again at each attempt:
 * DNS can change) and records the outcome: delivered; retried later with exponential backoff and
 * jitter (timeouts, connection errors, 408, 429, 5xx) for WEBHOOK_RETRY_WINDOW_MS; or failed at once
 * (other 4xx, redirects). At most WEBHOOK_CONCURRENCY attempts are in flight, at most
 * WEBHOOK_TENANT_CONCURRENCY for one tenant and WEBHOOK_ENDPOINT_CONCURRENCY to one endpoint, so slow
 * or dead endpoints hold up no other endpoint and no other tenant (and never the jobs: nothing here is
 * on their path).
 */
@Injectable()
export class WebhookSender implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly logger = new Logger(WebhookSender.name);
  private readonly inFlight = new Map<string, ClaimedDelivery>();
  private readonly perEndpoint = new Map<string, number>();
  private readonly perTenant = new Map<string, number>();
  private readonly agents = createWebhookAgents();
  private readonly policy: WebhookUrlPolicy;
  private readonly schedule: RetrySchedule;
  private stopping = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;

  constructor(
    private readonly repository: WebhookRepository,
    private readonly metrics: WebhookMetrics,
    @Inject(JOBS_CONFIG) private readonly config: JobsConfig,
  ) {
    this.policy = { allowHttp: config.WEBHOOK_ALLOW_HTTP, allowPrivateNetworks: config.WEBHOOK_ALLOW_PRIVATE_NETWORKS };
    this.schedule = { baseMs: config.WEBHOOK_RETRY_BASE_MS, maxMs: config.WEBHOOK_RETRY_MAX_MS, windowMs: config.WEBHOOK_RETRY_WINDOW_MS };
  }

  onApplicationBootstrap(): void {
    this.loop = this.run();
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping = true;
    this.wake();
    await this.loop;
    const deadline = Date.now() + SHUTDOWN_GRACE_MS;
    while (this.inFlight.size > 0 && Date.now() < deadline) await sleep(50);
    // What is still in flight may yet reach its endpoint; handing the lease back makes it due again
    // (at least once: the receiver may see it twice, with the same webhook-id).
    await Promise.all([...this.inFlight.keys()].map((id) => this.repository.releaseLease(id).catch(() => undefined)));
    this.agents.http.destroy();
    this.agents.https.destroy();
  }

  /** New deliveries were stored, or a slot came free: look again now rather than at the next poll. */
  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  private async run(): Promise<void> {
    while (!this.stopping) {
      let free = this.config.WEBHOOK_CONCURRENCY - this.inFlight.size;
      // Busy: a claim for one slot costs what a claim for many does, so let a few more come free first
      // (an idle sender claims at once: the latency of a lone delivery is untouched).
      if (free > 0 && free < CLAIM_BATCH && this.inFlight.size > 0) {
        await sleep(CLAIM_COALESCE_MS);
        free = this.config.WEBHOOK_CONCURRENCY - this.inFlight.size;
      }
      let claimed: ClaimedDelivery[] = [];
      this.woken = false;
      if (free > 0) {
        try {
          const tenantCap = this.config.WEBHOOK_TENANT_CONCURRENCY;
          claimed = await this.repository.claimDue({
            limit: free,
            perEndpoint: this.config.WEBHOOK_ENDPOINT_CONCURRENCY,
            leaseMs: this.config.WEBHOOK_TIMEOUT_MS + LEASE_MARGIN_MS,
            busy: this.perEndpoint,
            fullTenants: [...this.perTenant].filter(([, n]) => n >= tenantCap).map(([tenant]) => tenant),
          });
          // One claim may still give a tenant more than its share (several endpoints at once): the rest go back.
          const { kept, over } = withinTenantCap(claimed, this.perTenant, tenantCap);
          await Promise.all(over.map((d) => this.repository.releaseLease(d.id)));
          claimed = kept;
        } catch (error) {
          this.logger.error(`webhook deliveries not claimed, trying again in ${CLAIM_RETRY_MS} ms: ${error instanceof Error ? error.message : String(error)}`);
          await this.idle(CLAIM_RETRY_MS);
          continue;
        }
        for (const delivery of claimed) this.start(delivery);
      }
      // A full claim may have left more due: claim again at once (while slots are free).
      if (claimed.length > 0 && claimed.length === free) continue;
      await this.idle(IDLE_POLL_MS);
    }
  }

  /** Waits `ms`, or less when woken (a wake-up that came while claiming counts). */
  private async idle(ms: number): Promise<void> {
    if (this.woken || this.stopping) return;
    await new Promise<void>((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
    this.wakeUp = null;
  }

  private start(delivery: ClaimedDelivery): void {
    this.inFlight.set(delivery.id, delivery);
    this.perEndpoint.set(delivery.endpointId, (this.perEndpoint.get(delivery.endpointId) ?? 0) + 1);
    this.perTenant.set(delivery.tenant, (this.perTenant.get(delivery.tenant) ?? 0) + 1);
    void this.attempt(delivery)
      .catch((error: unknown) => this.logger.error({ delivery: delivery.id, err: error instanceof Error ? error.message : String(error) }, 'webhook attempt not recorded; it is tried again when its lease ends'))
      .finally(() => {
        this.inFlight.delete(delivery.id);
        const left = (this.perEndpoint.get(delivery.endpointId) ?? 1) - 1;
        if (left > 0) this.perEndpoint.set(delivery.endpointId, left);
        else this.perEndpoint.delete(delivery.endpointId);
        const tenantLeft = (this.perTenant.get(delivery.tenant) ?? 1) - 1;
        if (tenantLeft > 0) this.perTenant.set(delivery.tenant, tenantLeft);
        else this.perTenant.delete(delivery.tenant);
        this.wake();
      });
  }

  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    const started = Date.now();
    const headers = webhookHeaders({ msgId: delivery.id, timestampSeconds: Math.floor(started / 1000), body: delivery.body, secrets: delivery.secrets });
    const outcome = await this.post(delivery, { url: delivery.url, headers, body: delivery.body, timeoutMs: this.config.WEBHOOK_TIMEOUT_MS, policy: this.policy, agent: this.agents });
    const record = this.recordOf(delivery, outcome, started);
    const { disabled } = await this.repository.recordAttempt(delivery, record, this.config.WEBHOOK_DISABLE_AFTER_MS);
    this.metrics.attempts.inc({ outcome: record.kind });
    this.metrics.attemptSeconds.observe({ outcome: record.kind }, outcome.durationMs / 1000);
    const fields = { delivery: delivery.id, endpoint: delivery.endpointId, job: delivery.jobId, type: delivery.eventType, attempt: delivery.attempts + 1 };
    if (record.kind === 'delivered') {
      this.metrics.lagSeconds.observe(Math.max(0, Date.now() - delivery.occurredAt.getTime()) / 1000);
      this.logger.debug({ ...fields, status: record.status, ms: outcome.durationMs }, 'webhook delivered');
    } else if (record.kind === 'retry') {
      this.logger.warn({ ...fields, status: record.status, error: record.error, next: record.nextAttemptAt.toISOString() }, 'webhook attempt failed; retrying later');
    } else {
      this.logger.warn({ ...fields, status: record.status, error: record.error }, 'webhook delivery failed for good');
    }
    if (disabled) {
      this.metrics.disabled.inc();
      this.logger.error({ endpoint: delivery.endpointId, url: delivery.url }, `webhook endpoint disabled: ${disabled}`);
    }
  }

  /** Posts one attempt; while tracing, as a span in the trace of the delivery's event (the request carries it on). */
  private post(delivery: ClaimedDelivery, request: WebhookRequest): Promise<PostOutcome> {
    if (!tracingActive()) return postWebhook(request);
    return postWebhookInSpan(request, { deliveryId: delivery.id, attempt: delivery.attempts + 1, jobId: delivery.jobId, trace: delivery.trace });
  }

  /** What an attempt's outcome means for its delivery: a retry past the window is a failure. */
  private recordOf(delivery: ClaimedDelivery, outcome: PostOutcome, started: number): AttemptRecord {
    if (outcome.kind === 'delivered') return { kind: 'delivered', status: outcome.status };
    if (outcome.kind === 'failed') return { kind: 'failed', status: outcome.status, error: outcome.error };
    // The database's clock: claimedAt, moved on by what this attempt took.
    const now = new Date(delivery.claimedAt.getTime() + (Date.now() - started));
    const firstAttemptAt = delivery.firstAttemptAt ?? delivery.claimedAt;
    const next = nextAttemptAt({ attempts: delivery.attempts + 1, firstAttemptAt, now, retryAfterMs: outcome.retryAfterMs }, this.schedule);
    if (!next) {
      return { kind: 'failed', status: outcome.status, error: `gave up after ${delivery.attempts + 1} attempts over ${spanOf(this.schedule.windowMs)}; last: ${outcome.error}` };
    }
    return { kind: 'retry', status: outcome.status, error: outcome.error, nextAttemptAt: next };
  }
}

/** Splits claimed deliveries into those within each tenant's cap (counting what is in flight) and the rest. */
export function withinTenantCap<T extends { tenant: string }>(claimed: readonly T[], inFlight: ReadonlyMap<string, number>, cap: number): { kept: T[]; over: T[] } {
  const counts = new Map(inFlight);
  const kept: T[] = [];
  const over: T[] = [];
  for (const delivery of claimed) {
    const n = counts.get(delivery.tenant) ?? 0;
    if (n < cap) {
      counts.set(delivery.tenant, n + 1);
      kept.push(delivery);
    } else {
      over.push(delivery);
    }
  }
  return { kept, over };
}

/** A retry window for a person: `24 h`, `30 min`, `5 s`. */
function spanOf(ms: number): string {
  if (ms >= 3_600_000) return `${+(ms / 3_600_000).toFixed(1)} h`;
  if (ms >= 60_000) return `${+(ms / 60_000).toFixed(1)} min`;
  return `${+(ms / 1000).toFixed(1)} s`;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
