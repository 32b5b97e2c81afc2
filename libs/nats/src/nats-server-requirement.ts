import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { natsClientOptions, type NatsIdentity } from './nats-connection.js';

/** [major, minor, patch] of a nats-server release. */
export type NatsServerVersion = readonly [number, number, number];

/**
 * The oldest nats-server Framewire runs on. 2.12 gives `sync_interval: always` (fsync before each
 * acknowledgement, since 2.10), atomic batches, message scheduling and the expected-subject-sequence
 * checks that the event store relies on or will.
 */
export const MIN_NATS_SERVER_VERSION: NatsServerVersion = [2, 12, 0];

/** What to do about a server that is too old, in the words every refusal uses. */
export const NATS_SERVER_UPGRADE_HINT =
  'Framewire needs nats-server 2.12 or newer: `bash scripts/nats-server.sh` prints the path of one (fetching it if needed)';

/** Reads `2.9.10`, `v2.15.1` or `nats-server: v2.10.22-RC.1` as [major, minor, patch]; null when there is no version in it. */
export function parseNatsServerVersion(text: string): NatsServerVersion | null {
  const match = /v?(\d+)\.(\d+)\.(\d+)/.exec(text);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3])] : null;
}

/** Negative, zero or positive as `a` is older than, the same as, or newer than `b`. */
export function compareNatsServerVersions(a: NatsServerVersion, b: NatsServerVersion): number {
  return a[0] - b[0] || a[1] - b[1] || a[2] - b[2];
}

/** Whether a server that reports `version` (as in its INFO, e.g. `2.15.1`) is new enough; an unreadable version is not. */
export function isSupportedNatsServer(version: string | undefined): boolean {
  const parsed = version === undefined ? null : parseNatsServerVersion(version);
  return parsed !== null && compareNatsServerVersions(parsed, MIN_NATS_SERVER_VERSION) >= 0;
}

/** A server this version of Framewire refuses to run on; its message is the one line a service prints. */
export class UnsupportedNatsServerError extends Error {
  readonly code = 'NATS_SERVER_UNSUPPORTED';
  constructor(message: string) {
    super(message);
    this.name = 'UnsupportedNatsServerError';
  }
}

/**
 * Checks the server a fresh connection reached: its version (from the INFO it sent on connect) is
 * at least MIN_NATS_SERVER_VERSION, and JetStream answers for this account. Throws
 * UnsupportedNatsServerError when either is not so. JetStream that is only temporarily unavailable
 * (a cluster still electing its meta leader) is not a refusal: the caller's own retries cover it.
 */
export async function checkNatsServer(nc: NatsConnection, options: { settleMs?: number } = {}): Promise<{ version: string }> {
  const version = nc.info?.version ?? 'unknown';
  const where = `at ${nc.getServer()}`;
  if (!isSupportedNatsServer(version)) {
    throw new UnsupportedNatsServerError(`nats-server ${version} ${where} is too old: ${NATS_SERVER_UPGRADE_HINT}`);
  }
  const notEnabled = `JetStream is not enabled on nats-server ${version} ${where}: start it with -js, or a jetstream {} block in its config`;
  // A server that says in its INFO that it runs JetStream may not answer for it yet: a cluster that is
  // still forming has no responders on the API for a few seconds. Only a server that does not say so
  // is refused at once.
  const advertised = nc.info?.jetstream === true;
  const deadline = Date.now() + (options.settleMs ?? JETSTREAM_SETTLE_MS);
  for (;;) {
    try {
      const jsm = await jetstreamManager(nc, { checkAPI: false, timeout: 5000 });
      await jsm.getAccountInfo();
      return { version };
    } catch (error) {
      // nats.js names both "no JetStream on the server" (no responders) and "none for this account" so.
      if (!(error instanceof Error && error.name === 'JetStreamNotEnabled')) {
        // A timeout or a 503 while a cluster elects its leader: not a verdict on the server.
        return { version };
      }
      if (!advertised || Date.now() >= deadline) throw new UnsupportedNatsServerError(`${notEnabled} (${error.message})`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

/** How long a server that advertises JetStream may take to answer for it (a cluster forming) before it is refused. */
const JETSTREAM_SETTLE_MS = 20_000;

/**
 * A service's first step (its main.ts, before Nest builds it): one connection as the service's own
 * identity, checkNatsServer, and close. A refusal (or NATS not answering) then reaches the entry
 * point's own catch, which prints it as one line; inside Nest's startup it would come with Nest's
 * stack trace. NatsModule checks its connection the same way, for every other way a module is built.
 */
export async function preflightNatsServer(url: string, name: string, identity: NatsIdentity = {}): Promise<{ version: string }> {
  const nc = await connect({ ...natsClientOptions(url, identity), name, reconnect: false });
  try {
    return await checkNatsServer(nc);
  } finally {
    await nc.close().catch(() => undefined);
  }
}
