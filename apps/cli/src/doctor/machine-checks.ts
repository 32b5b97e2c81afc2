import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { projectRoot } from '../project-root.js';
import { isListening } from '../start/net-probe.js';
import { ffmpegVerdict, ffprobeVerdict, nodeVerdict, parseFfmpegList, type Check } from './verdicts.js';

const run = promisify(execFile);
const RUN_TIMEOUT_MS = 10_000;

/** The Node.js running this against the package's `engines` (what npm ci was promised). */
export function checkNode(): Check {
  let engines = '>=20.19';
  try {
    engines = (JSON.parse(readFileSync(join(projectRoot(), 'package.json'), 'utf8')) as { engines?: { node?: string } }).engines?.node ?? engines;
  } catch {
    // installed without its sources: the default above
  }
  return nodeVerdict(process.version, engines);
}

async function firstLine(path: string, args: string[]): Promise<string> {
  const { stdout } = await run(path, args, { timeout: RUN_TIMEOUT_MS, maxBuffer: 8 * 1024 * 1024 });
  return stdout.split('\n')[0]!.trim();
}

/** Why a program could not be run, in a few words: not found, not executable, or what it said. */
function runFailure(error: unknown): string {
  const code = (error as { code?: unknown }).code;
  if (code === 'ENOENT') return 'not found';
  if (code === 'EACCES') return 'not executable';
  return error instanceof Error ? error.message.split('\n')[0]! : String(error);
}

/** ffmpeg (FFMPEG_PATH, as the workers run it): its version and whether it has what the pipelines use. */
export async function checkFfmpeg(env: NodeJS.ProcessEnv = process.env): Promise<Check> {
  const path = env['FFMPEG_PATH'] || 'ffmpeg';
  try {
    const versionLine = await firstLine(path, ['-hide_banner', '-version']);
    const list = async (what: string) => parseFfmpegList((await run(path, ['-hide_banner', what], { timeout: RUN_TIMEOUT_MS, maxBuffer: 8 * 1024 * 1024 })).stdout);
    const [encoders, muxers, filters] = await Promise.all([list('-encoders'), list('-muxers'), list('-filters')]);
    return ffmpegVerdict(path, { versionLine, encoders, muxers, filters });
  } catch (error) {
    return ffmpegVerdict(path, { error: runFailure(error) });
  }
}

export async function checkFfprobe(env: NodeJS.ProcessEnv = process.env): Promise<Check> {
  const path = env['FFPROBE_PATH'] || 'ffprobe';
  try {
    return ffprobeVerdict(path, { versionLine: await firstLine(path, ['-hide_banner', '-version']) });
  } catch (error) {
    return ffprobeVerdict(path, { error: runFailure(error) });
  }
}

/** The first ops port `framewire start` tries (it takes the next free one when that is taken). */
const FIRST_OPS_PORT = 9464;

/**
 * The gateway's port: free, or taken by a Framewire gateway already running (it answers
 * /health/live), or by something else, which would stop the gateway from listening. The ops ports
 * are only reported: start takes free ones from 9464 up by itself.
 */
export async function checkPorts(gatewayPort: number): Promise<Check> {
  const ops = (await isListening('127.0.0.1', FIRST_OPS_PORT, 500)) ? `ops port ${FIRST_OPS_PORT} taken (start takes the next free one)` : `ops ports free from ${FIRST_OPS_PORT}`;
  if (!(await isListening('127.0.0.1', gatewayPort, 500))) return { name: 'ports', verdict: 'ok', detail: `gateway port ${gatewayPort} free; ${ops}` };
  const live = await fetch(`http://127.0.0.1:${gatewayPort}/health/live`, { signal: AbortSignal.timeout(2000) }).then(
    (res) => (void res.body?.cancel(), res.status === 200),
    () => false,
  );
  if (live) return { name: 'ports', verdict: 'ok', detail: `gateway port ${gatewayPort}: a Framewire gateway runs there; ${ops}` };
  return {
    name: 'ports',
    verdict: 'fail',
    detail: `gateway port ${gatewayPort} is taken by another program`,
    fix: `stop it, or choose another port: framewire start --port <n> (or PORT=<n>)`,
  };
}
