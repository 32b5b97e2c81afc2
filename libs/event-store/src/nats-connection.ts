import { connect, type NatsConnection } from '@nats-io/transport-node';

export type { NatsConnection };

/**
 * A connection that never gives up reconnecting: a service outlives a NATS restart and resumes
 * by itself. Requests made while disconnected fail fast with their own timeouts.
 */
export async function connectNats(url: string, name: string): Promise<NatsConnection> {
  return connect({
    servers: url.split(',').map((server) => server.trim()),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 250,
    pingInterval: 10_000,
    waitOnFirstConnect: false,
  });
}
