import { cliEnvSchema, parseConfig } from '@app/config';
import { dataDirOf, resolveDatabaseUrl, resolveNatsTarget, runningServices } from '../connection.js';
import { checkFfmpeg, checkFfprobe, checkNode, checkPorts } from './machine-checks.js';
import { checkNats, checkPostgres, checkStream, localNatsConfig } from './service-checks.js';
import type { Check } from './verdicts.js';

export interface DoctorOptions {
  /** The gateway port `framewire start` would listen on. */
  port: number;
  /** The data directory of `framewire start` (its running services, its nats-server config). */
  dataDir: string;
}

/**
 * The quick part: this machine only (Node, ffmpeg, ffprobe, the gateway's port), a second or two.
 * `framewire start` runs it before it starts anything; NATS and PostgreSQL it chooses itself.
 */
export async function quickChecks(options: Pick<DoctorOptions, 'port'>, env: NodeJS.ProcessEnv = process.env): Promise<Check[]> {
  const [ffmpeg, ffprobe, ports] = await Promise.all([checkFfmpeg(env), checkFfprobe(env), checkPorts(options.port)]);
  return [checkNode(), ffmpeg, ffprobe, ports];
}

/**
 * Every check: the quick part, then NATS, PostgreSQL, the stream and the projector, found as the
 * other commands find them (NATS_URL and DATABASE_URL, else a running `framewire start`, else the
 * default addresses).
 */
export async function allChecks(options: DoctorOptions, env: NodeJS.ProcessEnv = process.env): Promise<Check[]> {
  const config = parseConfig(cliEnvSchema, env);
  const dataDir = dataDirOf(options.dataDir);
  const running = runningServices(dataDir);
  const natsTarget = resolveNatsTarget(config, env['NATS_URL'] || undefined, dataDir);
  const ownNats = running?.localNatsUsers === true && running.natsUrl === natsTarget.url;
  const [quick, nats, postgres] = await Promise.all([
    quickChecks(options, env),
    checkNats(
      { target: natsTarget, chosen: Boolean(env['NATS_URL']) || running !== null },
      { monitorUrl: env['NATS_MONITOR_URL'] || undefined, localConfig: ownNats ? localNatsConfig(dataDir) : undefined },
    ),
    checkPostgres({ target: resolveDatabaseUrl(config.DATABASE_URL, dataDir, env), chosen: Boolean(config.DATABASE_URL) || running !== null }, config.DATABASE_SCHEMA),
  ]);
  try {
    const stream = await checkStream(nats.nc, config.FRAMEWIRE_NAMESPACE, postgres.figures);
    return [...quick, ...nats.checks, ...postgres.checks, ...stream];
  } finally {
    await nats.nc?.close().catch(() => undefined);
  }
}
