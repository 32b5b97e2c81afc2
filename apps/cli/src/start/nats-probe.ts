import { connect } from '@nats-io/transport-node';
import { checkNatsServer, isSupportedNatsServer, MIN_NATS_SERVER_VERSION, natsClientOptions, UnsupportedNatsServerError, type NatsIdentity } from '@app/nats';

/** A NATS that `framewire start` can use, or the one-line reason it can't. */
export type NatsProbe = { usable: true; version: string } | { usable: false; problem: string };

const MINIMUM = MIN_NATS_SERVER_VERSION.slice(0, 2).join('.');

/**
 * Connects to `url` once, as `identity`, and says whether Framewire can run on the server there: it
 * answers, its version (from the INFO it sends on connect) is MIN_NATS_SERVER_VERSION or newer, and
 * JetStream is on. The services check the same at their own start (checkNatsServer).
 */
export async function probeNats(url: string, identity: Pick<NatsIdentity, 'user' | 'pass'> = {}): Promise<NatsProbe> {
  let nc;
  try {
    nc = await connect({ ...natsClientOptions(url, identity), name: 'framewire-start-probe', reconnect: false, timeout: 3000 });
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    return { usable: false, problem: `no usable NATS at ${url} (${reason})` };
  }
  try {
    const version = nc.info?.version ?? 'unknown';
    if (!isSupportedNatsServer(version)) {
      return { usable: false, problem: `NATS at ${url} is nats-server ${version}, older than the ${MINIMUM} Framewire needs` };
    }
    await checkNatsServer(nc);
    return { usable: true, version };
  } catch (error) {
    if (error instanceof UnsupportedNatsServerError) return { usable: false, problem: error.message };
    throw error;
  } finally {
    await nc.close().catch(() => undefined);
  }
}
