import { connect, type NatsConnection } from '@nats-io/transport-node';

export type { NatsConnection };

/**
 * A connection that never gives up reconnecting: a service outlives a NATS restart and resumes
 * by itself. Requests made while disconnected fail fast with their own timeouts.
 *
 * `noAsyncTraces`: nats.js otherwise builds an Error (with its stack) for every request and publish
 * ack it awaits, to name the caller if it times out; in a worker's profile that was about 6% of the
 * CPU per job. Timeouts still fail with a TimeoutError; only the extra frames are gone.
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
    noAsyncTraces: true,
  });
}
