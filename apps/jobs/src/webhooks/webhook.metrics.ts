import { Inject, Injectable, Logger } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { METRICS_REGISTRY } from '@app/observability';
import { WebhookRepository } from '@app/webhooks';

/** Seconds from an event to its delivery: 10 ms (the usual) to a day (the retry window). */
const LAG_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 21_600, 86_400];
/** One attempt's duration: 5 ms to the 10 s timeout and a little past it. */
const ATTEMPT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 15];
/** How long one reading of the queue depths serves scrapes. */
const DEPTH_TTL_MS = 1000;

/**
 * Webhook delivery metrics: attempts by outcome and their duration, the time from an event to its
 * delivery, endpoints disabled, what the fan-out did with each event, and the pending deliveries per
 * endpoint (read from PostgreSQL when Prometheus scrapes).
 */
@Injectable()
export class WebhookMetrics {
  private readonly logger = new Logger(WebhookMetrics.name);
  readonly attempts: Counter<'outcome'>;
  readonly attemptSeconds: Histogram<'outcome'>;
  readonly lagSeconds: Histogram;
  readonly disabled: Counter;
  readonly fanout: Counter<'outcome'>;
  private depths: { at: number; rows: Promise<Array<{ endpointId: string; tenant: string; pending: number }>> } | null = null;

  constructor(@Inject(METRICS_REGISTRY) registry: Registry, repository: WebhookRepository) {
    const registers = [registry];
    this.attempts = new Counter({
      name: 'framewire_webhook_deliveries_total',
      help: 'Webhook delivery attempts by outcome: delivered, retry (will be tried again), failed (for good)',
      labelNames: ['outcome'],
      registers,
    });
    this.attemptSeconds = new Histogram({
      name: 'framewire_webhook_attempt_seconds',
      help: 'Duration of one webhook delivery attempt (connect to response), by outcome',
      labelNames: ['outcome'],
      buckets: ATTEMPT_BUCKETS,
      registers,
    });
    this.lagSeconds = new Histogram({
      name: 'framewire_webhook_delivery_lag_seconds',
      help: 'Seconds from an event (its occurredAt) to its delivery being acknowledged by the endpoint',
      buckets: LAG_BUCKETS,
      registers,
    });
    this.disabled = new Counter({
      name: 'framewire_webhook_endpoints_disabled_total',
      help: 'Webhook endpoints disabled because every delivery to them failed for WEBHOOK_DISABLE_AFTER_MS',
      registers,
    });
    this.fanout = new Counter({
      name: 'framewire_webhook_fanout_events_total',
      help: 'Lifecycle events the webhook fan-out handled: recorded (deliveries stored), unheard (no endpoint hears it), malformed',
      labelNames: ['outcome'],
      registers,
    });
    const depth = () => {
      if (!this.depths || Date.now() - this.depths.at > DEPTH_TTL_MS) {
        this.depths = { at: Date.now(), rows: repository.pendingByEndpoint() };
      }
      return this.depths.rows;
    };
    const logger = this.logger;
    new Gauge({
      name: 'framewire_webhook_queue_depth',
      help: 'Pending webhook deliveries (due or waiting for a retry), per endpoint',
      labelNames: ['endpoint', 'tenant'],
      registers,
      async collect() {
        this.reset();
        try {
          for (const row of await depth()) this.set({ endpoint: row.endpointId, tenant: row.tenant }, row.pending);
        } catch (error) {
          logger.warn(`webhook queue depth not read: ${error instanceof Error ? error.message : String(error)}`);
        }
      },
    });
  }
}
