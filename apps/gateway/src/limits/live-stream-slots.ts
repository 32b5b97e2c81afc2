import { Inject, Injectable } from '@nestjs/common';
import { ErrorCode } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { ApiError } from '../http/api-error.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { GatewayMetrics } from '../ops/gateway.metrics.js';
import { KeySlots } from './key-slots.js';

export type LiveStreamKind = 'job_sse' | 'live_feed' | 'job_websocket';

/**
 * The cap on live streams one key holds open at the same time (MAX_LIVE_STREAMS_PER_KEY, per gateway
 * process; per client address with AUTH_MODE=off), whatever their kind: a job's SSE stream, the live
 * feed, a job's WebSocket. Each holds a connection and, for a job, a JetStream consumer, for as long
 * as the client stays; one more is refused at once with 429 TOO_MANY_STREAMS. A slot is taken before
 * anything is read for the stream and given back when the stream ends, however it ends; the
 * framewire_live_streams gauge counts them by kind.
 */
@Injectable()
export class LiveStreamSlots extends KeySlots<LiveStreamKind> {
  constructor(@Inject(GATEWAY_CONFIG) config: Pick<GatewayConfig, 'MAX_LIVE_STREAMS_PER_KEY' | 'AUTH_MODE'>, metrics: GatewayMetrics) {
    super({
      authMode: config.AUTH_MODE,
      limit: config.MAX_LIVE_STREAMS_PER_KEY,
      refusal: (limit) => new ApiError(ErrorCode.TooManyStreams, `this key already holds ${limit} live streams open (MAX_LIVE_STREAMS_PER_KEY); close one first`, { 'Retry-After': '1' }),
      gauge: metrics.liveStreams,
    });
  }
}
