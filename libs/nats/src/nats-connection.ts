import { connect, type NatsConnection } from '@nats-io/transport-node';

export type { NatsConnection };

/** A service's identity on NATS: its user (when the server enforces permissions) and its inbox prefix. */
export interface NatsIdentity {
  user?: string | undefined;
  pass?: string | undefined;
  /** Replies to this connection's requests arrive under this prefix (see inboxPrefixOf). */
  inboxPrefix?: string | undefined;
}

/**
 * The servers named by a NATS_URL: one URL, or a cluster's several, comma-separated (as
 * deploy/nats/docker-compose.cluster.yml sets it). nats.js takes them as an array and fails over
 * between them; a string holding commas would be taken as one (broken) URL.
 */
export function natsServers(url: string): string[] {
  return url
    .split(',')
    .map((server) => server.trim())
    .filter((server) => server.length > 0);
}

/** The options every NATS client of a service shares (ours and Nest's transport): servers and identity. */
export function natsClientOptions(url: string, identity: NatsIdentity = {}) {
  return {
    servers: natsServers(url),
    ...(identity.user ? { user: identity.user } : {}),
    ...(identity.pass ? { pass: identity.pass } : {}),
    ...(identity.inboxPrefix ? { inboxPrefix: identity.inboxPrefix } : {}),
  };
}

/**
 * A connection that never gives up reconnecting: a service outlives a NATS restart and resumes
 * by itself. Requests made while disconnected fail fast with their own timeouts.
 *
 * `noAsyncTraces`: nats.js otherwise builds an Error (with its stack) for every request and publish
 * ack it awaits, to name the caller if it times out; in a worker's profile that was about 6% of the
 * CPU per job. Timeouts still fail with a TimeoutError; only the extra frames are gone.
 */
export async function connectNats(url: string, name: string, identity: NatsIdentity = {}): Promise<NatsConnection> {
  return connect({
    ...natsClientOptions(url, identity),
    name,
    maxReconnectAttempts: -1,
    reconnectTimeWait: 250,
    reconnectJitter: 250,
    pingInterval: 10_000,
    waitOnFirstConnect: false,
    noAsyncTraces: true,
  });
}
