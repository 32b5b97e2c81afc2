import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode, type Principal } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { GatewayMetrics } from '../ops/gateway.metrics.js';

export type LiveStreamKind = 'job_sse' | 'live_feed' | 'job_websocket';

/**
 * The cap on live streams one key holds open at the same time (MAX_LIVE_STREAMS_PER_KEY, per gateway
 * process), whatever their kind: a job's SSE stream, the live feed, a job's WebSocket. Each holds a
 * connection and, for a job, a JetStream consumer, for as long as the client stays; one more is
 * refused at once with 429 TOO_MANY_STREAMS. A slot is taken before anything is read for the stream
 * and given back when the stream ends, however it ends. With AUTH_MODE=off every request acts for the
 * same principal, so streams are counted per client address instead.
 */
@Injectable()
export class LiveStreamSlots {
  private readonly active = new Map<string, number>();

  constructor(
    @Inject(GATEWAY_CONFIG) private readonly config: Pick<GatewayConfig, 'MAX_LIVE_STREAMS_PER_KEY' | 'AUTH_MODE'>,
    private readonly metrics: GatewayMetrics,
  ) {}

  /** Takes a slot for the stream; call the returned function when it ends (more calls do nothing). */
  acquire(principal: Principal, client: string, kind: LiveStreamKind): () => void {
    const owner = this.config.AUTH_MODE === 'off' ? `ip:${client}` : `key:${principal.key_id}`;
    const limit = this.config.MAX_LIVE_STREAMS_PER_KEY;
    const current = this.active.get(owner) ?? 0;
    if (current >= limit) {
      throw new ApiError(ErrorCode.TooManyStreams, `this key already holds ${limit} live streams open (MAX_LIVE_STREAMS_PER_KEY); close one first`, { 'Retry-After': '1' });
    }
    this.active.set(owner, current + 1);
    this.metrics.liveStreams.inc({ kind });
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.metrics.liveStreams.dec({ kind });
      const left = (this.active.get(owner) ?? 1) - 1;
      if (left <= 0) this.active.delete(owner);
      else this.active.set(owner, left);
    };
  }
}
