import { jetstreamManager, JetStreamApiCodes, JetStreamApiError } from '@nats-io/jetstream';
import type { DataSource } from 'typeorm';
import { jobIdSchema, jobSubjects } from '@app/contracts';
import { cliEnvSchema, ConfigError, parseConfig, type CliConfig } from '@app/config';
import { EventStore } from '@app/event-store';
import { connectNats } from '@app/nats';
import { createReadModelDataSource, ProjectionRegistry, ProjectionSwitchError } from '@app/read-model';
import { CliError, ExitCode } from './exit-codes.js';
import { dataDirOf, resolveDatabaseUrl, resolveNatsTarget } from '../connection.js';
import { redact } from './redact.js';

/** The environment, read like the services read it (libs/config); a bad variable is exit 78. */
export function loadCliConfig(env: NodeJS.ProcessEnv = process.env): CliConfig {
  try {
    return parseConfig(cliEnvSchema, env);
  } catch (error) {
    if (error instanceof ConfigError) throw new CliError(ExitCode.Config, 'INVALID_CONFIGURATION', error.message);
    throw error;
  }
}

export function parseJobIdArg(value: string): string {
  if (!jobIdSchema.safeParse(value).success) throw new CliError(ExitCode.Usage, 'INVALID_JOB_ID', `"${value}" is not a job id (a UUID)`);
  return value.toLowerCase();
}

/**
 * Runs `use` with the event store of the configured namespace. The stream must exist: the CLI reads
 * the log, it never creates it. NATS is NATS_URL (as NATS_USER) if set, else the server of a running
 * `framewire start` (as its admin user when start runs that server), else the local default.
 */
export async function withEventStore<T>(config: CliConfig, use: (store: EventStore) => Promise<T>, env: NodeJS.ProcessEnv = process.env): Promise<T> {
  const subjects = jobSubjects(config.FRAMEWIRE_NAMESPACE);
  const nats = resolveNatsTarget(config, env['NATS_URL'] || undefined, dataDirOf());
  const nc = await connectNats(nats.url, 'framewire-cli', { user: nats.user, pass: nats.pass }).catch((error: unknown) => {
    // A server with users (the one `framewire start` runs, or a deployment's): say how to log in.
    const hint = /authorization/i.test(message(error))
      ? nats.user
        ? ` (as NATS user "${nats.user}")`
        : ': it has users; set NATS_USER and NATS_PASSWORD, or run this where the `framewire start` that runs the server keeps its data (.data)'
      : '';
    throw new CliError(ExitCode.Unavailable, 'NATS_UNAVAILABLE', `cannot reach NATS at ${nats.url}: ${message(error)}${hint}`);
  });
  try {
    const jsm = await jetstreamManager(nc, { timeout: 5000 });
    try {
      await jsm.streams.info(subjects.streamName);
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) {
        throw new CliError(
          ExitCode.NotFound,
          'STREAM_NOT_FOUND',
          `no event stream ${subjects.streamName} at ${nats.url}: nothing was ever submitted in namespace "${config.FRAMEWIRE_NAMESPACE}" (FRAMEWIRE_NAMESPACE)`,
        );
      }
      throw error;
    }
    return await use(new EventStore(nc, subjects));
  } finally {
    await nc.close().catch(() => undefined);
  }
}

/** Runs `use` with a data source on the home schema (DATABASE_SCHEMA) and its projection registry. */
export async function withReadModel<T>(config: CliConfig, use: (ds: DataSource, registry: ProjectionRegistry, url: string) => Promise<T>): Promise<T> {
  // DATABASE_URL, else the database of a running `framewire start`, else the local default.
  const url = resolveDatabaseUrl(config.DATABASE_URL, dataDirOf());
  const ds = createReadModelDataSource({ url, schema: config.DATABASE_SCHEMA, poolSize: 4 });
  await ds.initialize().catch((error: unknown) => {
    throw new CliError(ExitCode.Unavailable, 'POSTGRES_UNAVAILABLE', `cannot reach PostgreSQL at ${redact(url)}: ${message(error)}`);
  });
  try {
    return await use(ds, new ProjectionRegistry(ds, config.DATABASE_SCHEMA, url), url);
  } finally {
    await ds.destroy().catch(() => undefined);
  }
}

/** Turns whatever was thrown into a CliError with the exit code it deserves. */
export function toCliError(error: unknown): CliError {
  if (error instanceof CliError) return error;
  if (error instanceof ProjectionSwitchError) return new CliError(ExitCode.Conflict, 'SWITCH_REFUSED', error.message);
  const name = error instanceof Error ? error.name : '';
  const code = (error as { code?: unknown } | null)?.code;
  if (['ConnectionError', 'TimeoutError', 'RequestError', 'NoRespondersError', 'ClosedConnectionError'].includes(name)) {
    return new CliError(ExitCode.Unavailable, 'NATS_UNAVAILABLE', `NATS did not answer: ${message(error)}`);
  }
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || (typeof code === 'string' && code.startsWith('08')) || /timeout exceeded when trying to connect/.test(message(error))) {
    return new CliError(ExitCode.Unavailable, 'POSTGRES_UNAVAILABLE', `PostgreSQL did not answer: ${message(error)}`);
  }
  return new CliError(ExitCode.Internal, 'INTERNAL', error instanceof Error ? (error.stack ?? error.message) : String(error));
}

export function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
