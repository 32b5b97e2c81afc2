import { hostname } from 'node:os';
import { z } from 'zod';
import { isValidNamespace } from '@app/contracts';

/**
 * Configuration comes from environment variables, validated once at startup into a typed object.
 * A missing or invalid variable stops the process with one line naming it (see loadConfig).
 */
const int = (min: number, max = Number.MAX_SAFE_INTEGER) =>
  z.coerce.number({ error: `must be an integer from ${min} to ${max}` }).int(`must be an integer from ${min} to ${max}`).min(min, `must be at least ${min}`).max(max, `must be at most ${max}`);

const url = (protocols: string[]) =>
  z.string().refine((value) => {
    try {
      return protocols.includes(new URL(value).protocol);
    } catch {
      return false;
    }
  }, `must be a ${protocols.join(' or ')}// URL`);

const common = {
  NATS_URL: z.string().default('nats://127.0.0.1:4222').pipe(url(['nats:', 'tls:', 'ws:', 'wss:'])),
  FRAMEWIRE_NAMESPACE: z
    .string()
    .default('framewire')
    .refine(isValidNamespace, 'must be 1-32 of a-z, 0-9, _ and -, starting with a letter'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
};

/**
 * The ops listener (metrics and health) of a service without an HTTP API of its own. Several
 * processes on one host each need their own port: `framewire start` hands them out; 0 takes any
 * free port (the chosen one is logged).
 */
const ops = (defaultPort: number) => ({
  OPS_HOST: z.string().min(1).default('0.0.0.0'),
  OPS_PORT: int(0, 65535).default(defaultPort),
});
/** FRAMEWIRE_PLUGINS: module names (npm packages or paths) of tool plugins, comma-separated. */
const plugins = {
  FRAMEWIRE_PLUGINS: z
    .string()
    .default('')
    .transform((value) => value.split(',').map((s) => s.trim()).filter((s) => s.length > 0)),
};

const database = {
  DATABASE_URL: z.string({ error: 'is required (for example postgres://user@127.0.0.1:5432/framewire)' }).pipe(url(['postgres:', 'postgresql:'])),
  DATABASE_SCHEMA: z
    .string()
    .regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier')
    .default('public'),
};

export const gatewayEnvSchema = z.object({
  ...common,
  PORT: int(0, 65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  MAX_UPLOAD_BYTES: int(1).default(10 * 1024 ** 3),
  RPC_TIMEOUT_MS: int(100, 120_000).default(5000),
  /** The built dashboard (index.html and assets/); by default dist/dashboard of this installation. */
  DASHBOARD_DIR: z.string().min(1).optional(),
  /** How long POST /v1/video/process waits for its job before answering 504. */
  PROCESS_WAIT_MS: int(1000, 3_600_000).default(300_000),
  ...plugins,
});

export const jobsEnvSchema = z.object({
  ...common,
  ...database,
  PROJECTOR_BATCH_SIZE: int(1, 5000).default(500),
  /** How long a live batch waits for more events after its first before it is written; 0 writes as soon as none is buffered. */
  PROJECTOR_LINGER_MS: int(0, 1000).default(2),
  ...ops(9464),
});

export const workerEnvSchema = z.object({
  ...common,
  WORKER_CONCURRENCY: int(1, 256).default(2),
  WORKER_ID: z.string().min(1).max(200).regex(/^[\w.:@-]+$/, 'must be letters, digits and . : @ _ -').default(`${hostname()}-${process.pid}`),
  /** The ack deadline of the work consumer; a running job sends a heartbeat every third of it. */
  WORKER_ACK_WAIT_MS: int(1000, 3_600_000).default(30_000),
  WORKER_MAX_DELIVER: int(1, 1000).default(10),
  /** How long SIGTERM waits for running jobs before handing them back to the queue. */
  WORKER_SHUTDOWN_GRACE_MS: int(0, 3_600_000).default(25_000),
  WORK_DIR: z.string().optional(),
  FFPROBE_PATH: z.string().default('ffprobe'),
  FFMPEG_PATH: z.string().default('ffmpeg'),
  TOOL_TIMEOUT_MS: int(1000).default(15 * 60_000),
  /**
   * For benchmarks: when set, the worker publishes `{jobId, attempt, workerId, hrtimeNs}` on this core
   * NATS subject the moment each pipeline begins (hrtimeNs is the system's monotonic clock).
   */
  WORKER_PROBE_SUBJECT: z.string().regex(/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/, 'must be a plain NATS subject (no wildcards)').optional(),
  ...ops(9465),
  /** A job result larger than this (as JSON) goes to the Object Store; the event carries a reference. */
  RESULT_INLINE_MAX_BYTES: int(0, 512 * 1024).default(64 * 1024),
  ...plugins,
});

export type GatewayConfig = z.output<typeof gatewayEnvSchema>;
export type JobsConfig = z.output<typeof jobsEnvSchema>;
export type WorkerConfig = z.output<typeof workerEnvSchema>;

export class ConfigError extends Error {}

/** Validates `env` against `schema`; throws a ConfigError whose message is one line naming the variable. */
export function parseConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv): z.output<S> {
  const cleaned = Object.fromEntries(Object.entries(env).filter(([, value]) => value !== ''));
  const result = schema.safeParse(cleaned);
  if (result.success) return result.data;
  const issue = result.error.issues[0]!;
  const name = issue.path.join('.');
  const given = name in cleaned ? ` (got ${JSON.stringify(cleaned[name])})` : '';
  throw new ConfigError(`invalid configuration: ${name} ${issue.message}${given}`);
}

/** parseConfig for a process entry point: prints the one line and exits with status 78 (EX_CONFIG). */
export function loadConfig<S extends z.ZodType>(schema: S, env: NodeJS.ProcessEnv = process.env): z.output<S> {
  try {
    return parseConfig(schema, env);
  } catch (error) {
    if (error instanceof ConfigError) {
      process.stderr.write(`framewire: ${error.message}\n`);
      process.exit(78);
    }
    throw error;
  }
}
