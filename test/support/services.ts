import { randomBytes } from 'node:crypto';
import { jetstreamManager } from '@nats-io/jetstream';
import { Objm } from '@nats-io/obj';
import pg from 'pg';
import { jobSubjects, type JobSubjects } from '@app/contracts';
import { ensureEventStream } from '@app/event-store';
import { connectNats, type NatsConnection } from '@app/nats';

/**
 * The NATS server and PostgreSQL database the tests use; every test makes its own names inside them.
 * TEST_NATS_URL is the run's own nats-server (test/support/nats-global-setup.ts) unless it was set.
 */
export const TEST_NATS_URL = testEnv('TEST_NATS_URL', "jest.config.js's globalSetup starts the run's nats-server and sets it; run the tests with `npm run jest`, or set it");
export const TEST_DATABASE_URL = process.env['TEST_DATABASE_URL'] ?? 'postgres://root@127.0.0.1:5432/test';

/** A variable the tests need: missing inside Jest is an error; outside (the benchmarks import helpers from here) it is empty. */
function testEnv(name: string, why: string): string {
  const value = process.env[name] ?? '';
  if (!value && process.env['JEST_WORKER_ID'] !== undefined) throw new Error(`${name} is not set: ${why}`);
  return value;
}

/** A fresh lower-case name, unique across parallel and repeated runs. */
export function freshName(prefix: string): string {
  return `${prefix}${Date.now().toString(36)}${randomBytes(4).toString('hex')}`;
}

export interface TestNamespace {
  namespace: string;
  subjects: JobSubjects;
  nc: NatsConnection;
  /** Deletes the namespace's stream and object bucket, and closes the connection. */
  cleanup(): Promise<void>;
}

/** A fresh namespace (its own stream, bucket and subjects) on the test NATS server. */
export async function freshNamespace(): Promise<TestNamespace> {
  const namespace = freshName('t');
  const subjects = jobSubjects(namespace);
  const nc = await connectNats(TEST_NATS_URL, `test-${namespace}`);
  await ensureEventStream(nc, subjects);
  return {
    namespace,
    subjects,
    nc,
    async cleanup() {
      await deleteNamespace(nc, subjects);
      await nc.close();
    },
  };
}

export async function deleteNamespace(nc: NatsConnection, subjects: JobSubjects): Promise<void> {
  const jsm = await jetstreamManager(nc);
  await jsm.streams.delete(subjects.streamName).catch(() => undefined);
  await jsm.streams.delete(subjects.advisoryStreamName).catch(() => undefined);
  await jsm.streams.delete(`OBJ_${subjects.videoBucket}`).catch(() => undefined);
  await jsm.streams.delete(`KV_${subjects.workersBucket}`).catch(() => undefined);
  for (const name of [`KV_${subjects.uploadsBucket}`, `KV_${subjects.uploadLocksBucket}`]) await jsm.streams.delete(name).catch(() => undefined);
}

export interface TestSchema {
  schema: string;
  url: string;
  query<T extends pg.QueryResultRow = pg.QueryResultRow>(sql: string, params?: unknown[]): Promise<T[]>;
  drop(): Promise<void>;
}

/**
 * A fresh PostgreSQL schema in the test database. `drop()` drops it and every model schema named
 * after it (`<schema>_v<version>_...`, see ProjectionRegistry).
 */
export async function freshSchema(): Promise<TestSchema> {
  const schema = freshName('t_');
  const client = new pg.Client({ connectionString: TEST_DATABASE_URL, options: `-c search_path=${schema}` });
  await client.connect();
  return {
    schema,
    url: TEST_DATABASE_URL,
    async query<T extends pg.QueryResultRow>(sql: string, params?: unknown[]) {
      return (await client.query<T>(sql, params)).rows;
    },
    async drop() {
      const models = await client.query<{ nspname: string }>(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [`${schema}\\_v%`]);
      // The model schemas of this home schema, and the API keys and webhooks of its services (the defaults of
      // AUTH_DATABASE_SCHEMA and WEBHOOKS_DATABASE_SCHEMA).
      for (const name of [schema, ...models.rows.map((row) => row.nspname), `${schema}_auth`, `${schema}_webhooks`]) {
        await client.query(`DROP SCHEMA IF EXISTS "${name}" CASCADE`);
      }
      await client.end();
    },
  };
}

/** Object names currently in a namespace's video bucket. */
export async function objectNames(nc: NatsConnection, subjects: JobSubjects): Promise<string[]> {
  const store = await new Objm(nc).open(subjects.videoBucket).catch(() => null);
  if (!store) return [];
  const list = await store.list();
  return list.filter((info) => !info.deleted).map((info) => info.name);
}

export async function streamLastSeq(nc: NatsConnection, subjects: JobSubjects): Promise<number> {
  const jsm = await jetstreamManager(nc);
  return (await jsm.streams.info(subjects.streamName)).state.last_seq;
}

/** Polls `probe` until it returns a value that is not undefined, or fails after `timeoutMs`. */
export async function eventually<T>(probe: () => Promise<T | undefined>, timeoutMs = 20_000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (error) {
      lastError = error;
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${lastError ? `: ${String(lastError)}` : ''}`);
}

/**
 * Config for a service built in-process by a test: its ops listener (metrics, health) takes any free
 * port on loopback, so tests running in parallel never clash on the default ports.
 */
export const IN_PROCESS_OPS = { OPS_HOST: '127.0.0.1', OPS_PORT: '0' } as const;
