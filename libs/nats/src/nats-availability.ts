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
 * Whether the connection to NATS is up right now, from the client's own status events. A service
 * asks it before starting work that cannot succeed without NATS (an upload, a query), so that while
 * NATS is down it refuses at once instead of waiting for a timeout. The connection itself keeps
 * reconnecting (see connectNats); this only reports.
 */
export class NatsAvailability {
  private connected = true;

  constructor(private readonly nc: NatsConnection) {
    void this.watch();
  }

  get available(): boolean {
    return this.connected && !this.nc.isClosed();
  }

  private async watch(): Promise<void> {
    for await (const status of this.nc.status()) {
      if (status.type === 'disconnect') this.connected = false;
      else if (status.type === 'reconnect') this.connected = true;
    }
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
