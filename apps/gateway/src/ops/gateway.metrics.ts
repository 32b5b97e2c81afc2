import { Inject, Injectable } from '@nestjs/common';
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { HTTP_SECONDS_BUCKETS, METRICS_REGISTRY } from '@app/observability';

/** The gateway's metrics: HTTP traffic by route, jobs submitted by pipeline, live-feed clients. */
@Injectable()
export class GatewayMetrics {
  readonly submitted: Counter<'pipeline' | 'priority'>;
  readonly httpRequests: Counter<'method' | 'route' | 'status'>;
  readonly httpDuration: Histogram<'method' | 'route' | 'status'>;
  readonly liveClients: Gauge;
  readonly keyLookups: Counter;
  readonly authThrottled: Counter;
  readonly liveStreams: Gauge<'kind'>;

  constructor(@Inject(METRICS_REGISTRY) readonly registry: Registry) {
    const registers = [registry];
    this.submitted = new Counter({
      name: 'framewire_jobs_submitted_total',
      help: 'Jobs submitted (VideoSubmitted appended), by pipeline and priority',
      labelNames: ['pipeline', 'priority'],
      registers,
    });
    this.httpRequests = new Counter({
      name: 'framewire_http_requests_total',
      help: 'HTTP requests answered, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    });
    this.httpDuration = new Histogram({
      name: 'framewire_http_request_duration_seconds',
      help: 'HTTP request duration from arrival to the last byte of the response, by method, route pattern and status',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_SECONDS_BUCKETS,
      registers,
    });
    this.liveClients = new Gauge({ name: 'framewire_live_feed_clients', help: 'Clients following the live jobs feed (SSE)', registers });
    this.keyLookups = new Counter({ name: 'framewire_auth_key_lookups_total', help: 'API keys looked up in the jobs service (each a database query): keys not in the cache', registers });
    this.authThrottled = new Counter({
      name: 'framewire_auth_throttled_total',
      help: 'Requests answered 429 because their client address had too many failed authentications (AUTH_FAILURE_LIMIT)',
      registers,
    });
    this.liveStreams = new Gauge({ name: 'framewire_live_streams', help: 'Live streams open, by kind (job SSE, live feed, job WebSocket)', labelNames: ['kind'], registers });
  }
}
