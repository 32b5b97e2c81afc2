import { isIP } from 'node:net';
import { availableParallelism, hostname } from 'node:os';
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

/** One server's URL, or the servers of a cluster, comma-separated (the client fails over between them). */
const urlList = (protocols: string[]) => {
  const one = url(protocols);
  return z.string().refine((value) => value.split(',').every((part) => one.safeParse(part.trim()).success), `must be a ${protocols.join(' or ')}// URL, or several separated by commas`);
};

const common = {
  NATS_URL: z.string().default('nats://127.0.0.1:4222').pipe(urlList(['nats:', 'tls:', 'ws:', 'wss:'])),
  /** The service's own NATS user when the server enforces permissions (see deploy/nats and docs/security.md). */
  NATS_USER: z.string().min(1).max(128).optional(),
  NATS_PASSWORD: z.string().min(1).max(1024).optional(),
  FRAMEWIRE_NAMESPACE: z
    .string()
    .default('framewire')
    .refine(isValidNamespace, 'must be 1-32 of a-z, 0-9, _ and -, starting with a letter'),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  /** `json` (one pino record per line) or `pretty` (a readable line); unset, pretty on a terminal and JSON elsewhere. */
  LOG_FORMAT: z.enum(['json', 'pretty']).optional(),
  /** Servers of a NATS cluster that keep each stream and bucket: 1 for a single server, 3 for a three-node cluster. */
  NATS_STREAM_REPLICAS: int(1, 5).default(1),
};

const GO_DURATION = /^(?:(?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/;

/**
 * nats-server's `sync_interval`: `always` (fsync before every acknowledgement) or a Go duration such
 * as `10s`, `2m` or `1h30m` (fsync on that timer), above zero.
 */
export function isSyncInterval(value: string): boolean {
  return value === 'always' || (GO_DURATION.test(value) && /[1-9]/.test(value));
}

const sqlIdentifier = () => z.string().regex(/^[a-z_][a-z0-9_]{0,62}$/, 'must be a lower-case SQL identifier');

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
  DATABASE_SCHEMA: sqlIdentifier().default('public'),
  /** Where the API keys live; by default `<DATABASE_SCHEMA>_auth` (see authSchemaFor). */
  AUTH_DATABASE_SCHEMA: sqlIdentifier().optional(),
};

/**
 * The schema that holds the API keys next to a read model in `readModelSchema`: `<schema>_auth`.
 * Replay and projection versions rebuild and swap read-model tables and schemas; keys live in a schema
 * of their own, with their own migrations, so none of that can ever reach them.
 */
export function authSchemaFor(readModelSchema: string): string {
  return `${readModelSchema}_auth`;
}

/** Fills in AUTH_DATABASE_SCHEMA from DATABASE_SCHEMA when it is not set. */
function withAuthSchema<T extends { DATABASE_SCHEMA: string; AUTH_DATABASE_SCHEMA?: string | undefined }>(config: T, ctx: z.RefinementCtx) {
  const schema = config.AUTH_DATABASE_SCHEMA ?? authSchemaFor(config.DATABASE_SCHEMA);
  if (schema.length > 63) {
    ctx.addIssue({ code: 'custom', path: ['AUTH_DATABASE_SCHEMA'], message: `must be at most 63 characters (set it when DATABASE_SCHEMA is long)` });
  }
  if (schema === config.DATABASE_SCHEMA) {
    ctx.addIssue({ code: 'custom', path: ['AUTH_DATABASE_SCHEMA'], message: 'must differ from DATABASE_SCHEMA: keys never share a schema with the read model' });
  }
  return { ...config, AUTH_DATABASE_SCHEMA: schema };
}

const flag = z.enum(['0', '1', 'false', 'true']).default('0').transform((value) => value === '1' || value === 'true');

/** Webhook deliveries, made by the jobs service (docs/webhooks.md). */
const webhooks = {
  /** Where the webhook endpoints and deliveries live; by default `<DATABASE_SCHEMA>_webhooks`. */
  WEBHOOKS_DATABASE_SCHEMA: sqlIdentifier().optional(),
  /** Accept `http://` webhook URLs (default: https only). */
  WEBHOOK_ALLOW_HTTP: flag,
  /** Accept webhook hosts on loopback, private and link-local addresses (cloud metadata addresses are never accepted). */
  WEBHOOK_ALLOW_PRIVATE_NETWORKS: flag,
  /** One attempt's limit: connect, headers and body. */
  WEBHOOK_TIMEOUT_MS: int(100, 120_000).default(10_000),
  /** The first retry's delay; each next one doubles (with jitter) up to WEBHOOK_RETRY_MAX_MS. */
  WEBHOOK_RETRY_BASE_MS: int(10, 3_600_000).default(5_000),
  WEBHOOK_RETRY_MAX_MS: int(10, 86_400_000).default(3_600_000),
  /** How long a delivery is retried after its first attempt before it is marked failed. */
  WEBHOOK_RETRY_WINDOW_MS: int(1000, 30 * 86_400_000).default(86_400_000),
  /** An endpoint whose every delivery has failed for this long is disabled. */
  WEBHOOK_DISABLE_AFTER_MS: int(1000, 365 * 86_400_000).default(3 * 86_400_000),
  /** How long the secret before a rotation still signs beside the new one. */
  WEBHOOK_SECRET_GRACE_MS: int(0, 30 * 86_400_000).default(86_400_000),
  /** Attempts one jobs service instance has in flight at most: in all, for one tenant's endpoints, to one endpoint. */
  WEBHOOK_CONCURRENCY: int(1, 1024).default(64),
  WEBHOOK_TENANT_CONCURRENCY: int(1, 1024).default(32),
  WEBHOOK_ENDPOINT_CONCURRENCY: int(1, 256).default(8),
};

/** Fills in WEBHOOKS_DATABASE_SCHEMA from DATABASE_SCHEMA when it is not set. */
function withWebhooksSchema<T extends { DATABASE_SCHEMA: string; AUTH_DATABASE_SCHEMA: string; WEBHOOKS_DATABASE_SCHEMA?: string | undefined }>(config: T, ctx: z.RefinementCtx) {
  const schema = config.WEBHOOKS_DATABASE_SCHEMA ?? `${config.DATABASE_SCHEMA}_webhooks`;
  if (schema.length > 63) {
    ctx.addIssue({ code: 'custom', path: ['WEBHOOKS_DATABASE_SCHEMA'], message: 'must be at most 63 characters (set it when DATABASE_SCHEMA is long)' });
  }
  if (schema === config.DATABASE_SCHEMA || schema === config.AUTH_DATABASE_SCHEMA) {
    ctx.addIssue({ code: 'custom', path: ['WEBHOOKS_DATABASE_SCHEMA'], message: 'must differ from DATABASE_SCHEMA and AUTH_DATABASE_SCHEMA' });
  }
  return { ...config, WEBHOOKS_DATABASE_SCHEMA: schema };
}

/** Comma-separated origins such as `https://app.example.com,http://localhost:5173`; empty means CORS is off. */
const originList = z
  .string()
  .default('')
  .transform((value, ctx) => {
    const origins = value.split(',').map((o) => o.trim()).filter((o) => o !== '');
    for (const origin of origins) {
      let parsed: URL | null = null;
      try {
        parsed = new URL(origin);
      } catch {
        parsed = null;
      }
      if (!parsed || !['http:', 'https:'].includes(parsed.protocol) || parsed.origin !== origin) {
        ctx.addIssue({ code: 'custom', message: `"${origin.slice(0, 100)}" is not an origin like https://app.example.com (scheme, host, optional port; no path, no *)` });
        return z.NEVER;
      }
    }
    return origins;
  });

/** The placeholder of TRACE_UI_URL that a job's trace id replaces. */
export const TRACE_ID_PLACEHOLDER = '{trace_id}';

/** TRACE_UI_URL as a link template: as given when it has `{trace_id}`, else Jaeger's `<base>/trace/{trace_id}`. */
const traceLinkTemplate = z
  .string()
  .max(2048, 'must be at most 2048 characters')
  .optional()
  .transform((value) => (!value ? undefined : value.includes(TRACE_ID_PLACEHOLDER) ? value : `${value.replace(/\/+$/, '')}/trace/${TRACE_ID_PLACEHOLDER}`))
  .refine((template) => template === undefined || url(['http:', 'https:']).safeParse(template.replaceAll(TRACE_ID_PLACEHOLDER, '0')).success, 'must be an http:// or https:// URL (a trace UI\'s base URL, or a link with {trace_id} in it)');

/** TRUST_PROXY: false (trust no proxy), a hop count, or the proxies' addresses and subnets. */
const trustProxy = z
  .string()
  .default('false')
  .transform((value, ctx): false | number | string[] => {
    const text = value.trim();
    if (text === 'false' || text === '0') return false;
    if (/^\d{1,2}$/.test(text)) return Number(text);
    if (text === 'true') {
      ctx.addIssue({ code: 'custom', message: 'may not be "true" (any client could then choose its own address): give the hop count or the proxies\' addresses' });
      return z.NEVER;
    }
    const entries = text.split(',').map((e) => e.trim()).filter((e) => e !== '');
    for (const entry of entries) {
      if (!isProxyEntry(entry)) {
        ctx.addIssue({ code: 'custom', message: `"${entry.slice(0, 100)}" is not a hop count, an IP address, a subnet like 10.0.0.0/8, loopback, linklocal or uniquelocal` });
        return z.NEVER;
      }
    }
    return entries.length > 0 ? entries : false;
  });

function isProxyEntry(entry: string): boolean {
  if (['loopback', 'linklocal', 'uniquelocal'].includes(entry)) return true;
  const [address, prefix, ...rest] = entry.split('/');
  const family = isIP(address ?? '');
  if (family === 0 || rest.length > 0) return false;
  if (prefix === undefined) return true;
  return /^\d{1,3}$/.test(prefix) && Number(prefix) <= (family === 4 ? 32 : 128);
}

export const gatewayEnvSchema = z.object({
  ...common,
  PORT: int(0, 65535).default(3000),
  HOST: z.string().default('0.0.0.0'),
  MAX_UPLOAD_BYTES: int(1).default(10 * 1024 ** 3),
  RPC_TIMEOUT_MS: int(100, 120_000).default(5000),
  /** `keys` (the default): every route but the public ones needs an API key. `off`: a dev setting, logged loudly. */
  AUTH_MODE: z.enum(['keys', 'off']).default('keys'),
  /** How long a verified key is trusted without asking the jobs service again; a revocation evicts it at once. */
  AUTH_CACHE_TTL_MS: int(0, 600_000).default(30_000),
  /** Requests per key per window; 0 turns the limit off. */
  RATE_LIMIT_REQUESTS: int(0, 1_000_000).default(600),
  RATE_LIMIT_WINDOW_MS: int(1000, 3_600_000).default(60_000),
  /** Uploads one key may stream at the same time. */
  MAX_CONCURRENT_UPLOADS_PER_KEY: int(1, 10_000).default(4),
  /** How long an unfinished resumable upload (tus, /v1/uploads) lives after its creation; then its bytes are deleted. */
  UPLOAD_EXPIRES_MS: int(1000, 30 * 86_400_000).default(24 * 3_600_000),
  /** How often each gateway looks for expired resumable uploads (any gateway may delete any of them). */
  UPLOAD_SWEEP_INTERVAL_MS: int(200, 3_600_000).default(60_000),
  CORS_ORIGINS: originList,
  /** How long a signed media link (a job's video and artifacts without a key) works. */
  MEDIA_LINK_TTL_MS: int(10_000, 86_400_000).default(15 * 60_000),
  /** The HMAC secret of media links; the same on every gateway behind one address. Unset: random per process. */
  MEDIA_LINK_SECRET: z.string().min(32, 'must be at least 32 characters').max(1024).optional(),
  /** The built dashboard (index.html and assets/); by default dist/dashboard of this installation. */
  DASHBOARD_DIR: z.string().min(1).optional(),
  /**
   * Where the dashboard's job page links a job's trace: a trace UI's base URL (Jaeger's, e.g.
   * `http://127.0.0.1:16686`, to which `/trace/<trace id>` is added), or a link with `{trace_id}` in
   * it for any other UI (Grafana with Tempo, Honeycomb...). Held as that link template. Unset: no link.
   */
  TRACE_UI_URL: traceLinkTemplate,
  /** How long POST /v1/video/process waits for its job before answering 504. */
  PROCESS_WAIT_MS: int(1000, 3_600_000).default(300_000),
  /**
   * Failed authentications (a malformed, unknown or revoked key, a bad media link; not a request with
   * no key at all) one client address may have per AUTH_FAILURE_WINDOW_MS. Past it, the gateway answers
   * 429 without looking keys up for that address (a key it already knows still passes); 0 turns the limit off.
   */
  AUTH_FAILURE_LIMIT: int(0, 1_000_000).default(60),
  AUTH_FAILURE_WINDOW_MS: int(1000, 3_600_000).default(60_000),
  /** Live streams (a job's SSE, the live feed, a job's WebSocket) one key may hold open at the same time. */
  MAX_LIVE_STREAMS_PER_KEY: int(1, 10_000).default(16),
  /**
   * Which proxies in front of the gateway to believe about the client's address (X-Forwarded-For), as
   * Express's `trust proxy`: unset (the default: none, the address is the socket's), a number of hops,
   * or a comma-separated list of addresses, subnets (`10.0.0.0/8`) and `loopback`, `linklocal`, `uniquelocal`.
   */
  TRUST_PROXY: trustProxy,
  ...plugins,
});

export const jobsEnvSchema = z
  .object({
    ...common,
    ...database,
    PROJECTOR_BATCH_SIZE: int(1, 5000).default(500),
    /** How often an instance waiting for another one's projection-version rebuild checks on it. */
    PROJECTION_UPGRADE_POLL_MS: int(100, 600_000).default(2000),
    /** How long a live batch waits for more events after its first before it is written; 0 writes as soon as none is buffered. */
    PROJECTOR_LINGER_MS: int(0, 1000).default(2),
    ...ops(9464),
    /** The event stream's size limit in bytes; at it, new events are refused (507 STORAGE_FULL), old ones never dropped. Unset: none. */
    NATS_STREAM_MAX_BYTES: int(1024).optional(),
    /** The video bucket's (uploads, results, artifacts) size limit in bytes; at it, uploads are refused with 507 STORAGE_FULL. Unset: none. */
    NATS_BUCKET_MAX_BYTES: int(1024).optional(),
    /** Ended jobs (completed, failed, cancelled) are deleted this many days after their end; unset keeps them forever. */
    JOB_RETENTION_DAYS: int(1, 36_500).optional(),
    /** How often the storage sweep runs: pending deletions, retention, and garbage in the Object Store. */
    STORAGE_SWEEP_INTERVAL_MS: int(1000, 86_400_000).default(60_000),
    /** How old garbage must be before the sweep removes it, so an upload or attempt in progress is never touched. */
    STORAGE_GC_GRACE_MS: int(0, 30 * 86_400_000).default(3_600_000),
    ...webhooks,
  })
  .transform(withAuthSchema)
  .transform(withWebhooksSchema);

/**
 * What the `framewire` CLI reads: the same NATS and database settings as the services (DATABASE_URL
 * may be unset; the CLI then finds the database `framewire start` uses) and AUTH_MODE.
 */
export const cliEnvSchema = z
  .object({
    ...common,
    ...database,
    DATABASE_URL: database.DATABASE_URL.optional(),
    AUTH_MODE: z.enum(['keys', 'off']).default('keys'),
    /** The `sync_interval` of the nats-server that `framewire start` runs itself (docs/operations.md). */
    NATS_SYNC_INTERVAL: z.string().default('always').refine(isSyncInterval, 'must be "always" or a duration such as 10s, 2m or 1h30m (units ns, us, ms, s, m, h)'),
  })
  .transform(withAuthSchema);

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
   * Media limits, checked against the probe before any tool runs; a video over one fails at once with
   * INPUT_TOO_LARGE. A pipeline may tighten them (PipelineDefinition.mediaLimits), never loosen them.
   */
  MEDIA_MAX_DURATION_SEC: int(1).default(4 * 3600),
  /** Width × height of any video stream: 8K (7680 × 4320) by default. */
  MEDIA_MAX_PIXELS: int(1).default(7680 * 4320),
  MEDIA_MAX_FPS: int(1).default(240),
  /** Frames of any video stream: four hours at 240 fps by default. */
  MEDIA_MAX_FRAMES: int(1).default(4 * 3600 * 240),
  /** Streams of every kind (video, audio, subtitles, data) in the file. */
  MEDIA_MAX_STREAMS: int(1).default(32),
  /** Threads of each ffmpeg and ffprobe process (decoders, encoders, filters); default: the machine's cores. */
  FFMPEG_THREADS: int(1, 256).default(availableParallelism()),
  /**
   * Address space of each ffmpeg and ffprobe process, in MiB; 0 leaves it uncapped. Unset: 4096, or
   * 256 per FFMPEG_THREADS when that is more (what a 4K H.264 transcode needs, with room to spare).
   */
  FFMPEG_MEMORY_MB: int(0, 1_048_576).optional(),
  /** Wall-clock limit of each ffprobe run (-count_packets reads the whole file when the container states no frame count). */
  FFPROBE_TIMEOUT_MS: int(1000).default(5 * 60_000),
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
export type CliConfig = z.output<typeof cliEnvSchema>;

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
