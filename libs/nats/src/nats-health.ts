import type { NatsConnection } from '@nats-io/transport-node';
import type { HealthCheck } from '@app/observability';

/** Readiness of a NATS connection: open, and the server answers a round trip. */
export function natsHealthCheck(nc: NatsConnection): HealthCheck {
  return {
    name: 'nats',
    async check() {
      if (nc.isClosed()) throw new Error('the connection is closed');
      await nc.flush();
    },
  };
}
