import { JetStreamApiError, JetStreamError } from '@nats-io/jetstream';
import {
  ClosedConnectionError,
  ConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  TimeoutError,
  type NatsConnection,
} from '@nats-io/transport-node';

/**
 * What `NatsAvailability.unlessLost` rejects with: the connection went down during the work and did
 * not come back within the grace period.
 */
export class NatsConnectionLostError extends Error {
  constructor(downForMs: number) {
    super(`the connection to NATS has been down for ${downForMs} ms`);
    this.name = 'NatsConnectionLostError';
  }
}

/**
 * Whether the connection to NATS is up right now, from the client's own status events. A service
 * asks it before starting work that cannot succeed without NATS (an upload, a query), so that while
 * NATS is down it refuses at once instead of waiting for a timeout. The connection itself keeps
 * reconnecting (see connectNats); this only reports.
 */
export class NatsAvailability {
  private connected = true;
  /** Called on every change of `connected`. */
  private readonly watchers = new Set<() => void>();

  constructor(private readonly nc: NatsConnection) {
    void this.watch();
  }

  get available(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  /**
   * `work`'s result, unless the connection is down, or goes down while `work` runs, and stays down
   * for `graceMs`: then a NatsConnectionLostError at once. nats.js holds a request made while it is
   * disconnected until its timeout, and a write of several requests (an Object Store put: a lookup,
   * the chunks, a purge on failure) adds those timeouts up; this ends the wait when the outage is
   * known. A reconnect within the grace (a cluster moving the client to another node) lets `work` go
   * on. `work` is not stopped: the caller aborts what it feeds it, and its late failure is dropped.
   */
  async unlessLost<T>(work: Promise<T>, graceMs: number): Promise<T> {
    let lost!: (error: Error) => void;
    const lostPromise = new Promise<never>((_resolve, reject) => (lost = reject));
    let timer: NodeJS.Timeout | undefined;
    const watcher = () => {
      clearTimeout(timer);
      timer = undefined;
      if (this.available) return;
      const since = Date.now();
      timer = setTimeout(() => {
        if (!this.available) lost(new NatsConnectionLostError(Date.now() - since));
      }, graceMs);
    };
    this.watchers.add(watcher);
    watcher();
    try {
      return await Promise.race([work, lostPromise]);
    } finally {
      clearTimeout(timer);
      this.watchers.delete(watcher);
      work.catch(() => undefined);
    }
  }

  private async watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') this.connected = false;
      else if (status.type === 'reconnect') this.connected = true;
      else continue;
      for (const watcher of this.watchers) watcher();
    }
    // Closed for good: the watchers see `available` false.
    for (const watcher of this.watchers) watcher();
  }
}

const UNAVAILABLE = [
  TimeoutError,
  ConnectionError,
  ClosedConnectionError,
  DrainingConnectionError,
  NoRespondersError,
  RequestError,
  JetStreamError,
  NatsConnectionLostError,
] as const;

/**
 * True for the errors NATS gives when it is down, restarting or not answering. A JetStream API error
 * is the server answering "no" (a wrong sequence, a missing stream), which is not an outage, except
 * its 503 ("JetStream temporarily unavailable", as during a restart or a leader election).
 */
export function isNatsUnavailableError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    // A stream at its size limit also answers 503 ("maximum bytes exceeded"), but NATS is there: not an outage.
    if (e instanceof JetStreamApiError) return e.status === 503 && !/maximum (bytes|messages) exceeded/i.test(e.message);
    if (UNAVAILABLE.some((kind) => e instanceof kind)) return true;
  }
  return false;
}

const CONNECTION_LOSS = [TimeoutError, ConnectionError, ClosedConnectionError, DrainingConnectionError, NatsConnectionLostError] as const;

/**
 * True when a request failed for want of an answer (a timeout, a lost or closed connection), which
 * says nothing about the stream or bucket it was for: asking JetStream about them next would only
 * wait again. A "no responders" or a JetStream API error is an answer, so it is not one of these.
 */
export function isConnectionLossError(error: unknown): boolean {
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (CONNECTION_LOSS.some((kind) => e instanceof kind)) return true;
  }
  return false;
}

/**
 * What really failed, for an error that isNatsUnavailableError accepts, in words fit for a 503's
 * message. `connected` is whether the client's connection is up (NatsAvailability.available): a
 * JetStream request that times out or finds no leader while it is up is not NATS being unreachable
 * but the servers that hold one stream or bucket being down or electing a leader (on a cluster, the
 * node of an R1 bucket died, say), and the message must say so.
 */
export function natsFailureMessage(error: unknown, connected: boolean): string {
  if (!connected) return 'NATS is unreachable';
  for (let e: unknown = error, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof ConnectionError || e instanceof ClosedConnectionError || e instanceof DrainingConnectionError || e instanceof NatsConnectionLostError) {
      return 'NATS is unreachable';
    }
    if (e instanceof JetStreamApiError) return `JetStream is unavailable (${e.message}, code ${e.code}); NATS itself is reachable`;
    if (e instanceof TimeoutError) {
      return 'JetStream did not answer in time: the servers that hold this stream or bucket are down or electing a leader; NATS itself is reachable';
    }
    if (e instanceof NoRespondersError) return 'JetStream did not answer (no responders: JetStream is off or has no leader); NATS itself is reachable';
    if (e instanceof JetStreamError) return `JetStream failed (${e.message}); NATS itself is reachable`;
  }
  return `a NATS request failed (${error instanceof Error ? error.message : String(error)})`;
}

/** How long a service's start-up steps wait for NATS and JetStream to answer before the start fails. */
export const START_UNAVAILABLE_MS = 30_000;

/**
 * Runs `step` (a start-up step: making consumers, a first heartbeat) again while NATS or JetStream is
 * not answering, for up to `timeoutMs`: a server of a cluster that was just restarted, or one still
 * forming, answers "no responders" for JetStream for a few seconds. Any other error, or the same one
 * past the deadline, is thrown.
 */
export async function whileNatsUnavailable<T>(step: () => Promise<T>, options: { timeoutMs: number; onRetry?: (error: unknown, delayMs: number) => void }): Promise<T> {
  const deadline = Date.now() + options.timeoutMs;
  for (let delayMs = 250; ; delayMs = Math.min(delayMs * 2, 2000)) {
    try {
      return await step();
    } catch (error) {
      if (!isNatsUnavailableError(error) || Date.now() + delayMs > deadline) throw error;
      options.onRetry?.(error, delayMs);
      await new Promise((resolve) => setTimeout(resolve, delayMs));
    }
  }
}
