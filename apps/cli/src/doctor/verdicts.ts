/**
 * `framewire doctor`'s findings and the decisions behind them, without I/O: each check's verdict
 * from what was measured, the report's table, and the exit code.
 */

/** ok: as it should be; warn: works, but worth knowing; fail: Framewire will not work so; skip: could not be checked. */
export type Verdict = 'ok' | 'warn' | 'fail' | 'skip';

export interface Check {
  /** What was checked: `node`, `ffmpeg`, `nats`, `nats sync`, `ports`... */
  name: string;
  verdict: Verdict;
  /** What was found, in one line. */
  detail: string;
  /** What to do about it, when it is not ok. */
  fix?: string;
}

/** 0 when nothing failed (warnings are reported, not failures), 1 otherwise. */
export function doctorExitCode(checks: Check[]): 0 | 1 {
  return checks.some((check) => check.verdict === 'fail') ? 1 : 0;
}

const LABEL: Record<Verdict, string> = { ok: 'ok', warn: 'WARN', fail: 'FAIL', skip: 'skip' };
const COLOUR: Record<Verdict, number> = { ok: 32, warn: 33, fail: 31, skip: 90 };

/** The report: a table of checks with a verdict each, then what to do about each one that is not ok. */
export function formatReport(checks: Check[], colour: boolean): string[] {
  const nameWidth = Math.max(5, ...checks.map((c) => c.name.length));
  const paint = (verdict: Verdict, text: string) => (colour ? `\u001b[${COLOUR[verdict]}m${text}\u001b[0m` : text);
  const rows = checks.map((c) => `${c.name.padEnd(nameWidth)}  ${paint(c.verdict, LABEL[c.verdict].padEnd(7))}  ${c.detail}`);
  const fixes = checks.filter((c) => c.verdict !== 'ok' && c.fix).map((c) => `  ${c.name}: ${c.fix}`);
  const failed = checks.filter((c) => c.verdict === 'fail').length;
  const warned = checks.filter((c) => c.verdict === 'warn').length;
  const summary = failed === 0 ? `all is well${warned ? ` (${warned} warning${warned > 1 ? 's' : ''})` : ''}` : `${failed} check${failed > 1 ? 's' : ''} failed${warned ? `, ${warned} warning${warned > 1 ? 's' : ''}` : ''}`;
  return [`${'CHECK'.padEnd(nameWidth)}  VERDICT  FOUND`, ...rows, ...(fixes.length ? ['', 'What to do:', ...fixes] : []), '', summary];
}

/** [major, minor, patch] of `v20.19.1`, `20.19` or `ffmpeg version 7.1.1-1+b1`; null when there is none. */
export function parseVersion(text: string): [number, number, number] | null {
  const match = /(\d+)\.(\d+)(?:\.(\d+))?/.exec(text);
  return match ? [Number(match[1]), Number(match[2]), Number(match[3] ?? 0)] : null;
}

export function atLeast(version: [number, number, number], minimum: [number, number, number]): boolean {
  return (version[0] - minimum[0] || version[1] - minimum[1] || version[2] - minimum[2]) >= 0;
}

export function nodeVerdict(version: string, engines: string): Check {
  const minimum = parseVersion(engines);
  const found = parseVersion(version);
  if (!minimum || !found || atLeast(found, minimum)) return { name: 'node', verdict: 'ok', detail: `${version} (needs ${engines})` };
  return { name: 'node', verdict: 'fail', detail: `${version}, older than the ${engines} Framewire needs`, fix: `install Node.js ${engines.replace(/^>=\s*/, '')} or newer (https://nodejs.org, or nvm install 22)` };
}

/** What the built-in pipelines ask of ffmpeg (libs/tools/src/builtin): encoders, muxers and filters by name. */
export const FFMPEG_NEEDS = {
  encoders: ['libx264', 'aac', 'mjpeg'],
  muxers: ['mp4', 'hls', 'image2', 'null'],
  filters: ['scale', 'select', 'tile', 'signalstats', 'metadata', 'split'],
} as const;

export interface FfmpegFound {
  /** First line of `ffmpeg -version`. */
  versionLine: string;
  encoders: Set<string>;
  muxers: Set<string>;
  filters: Set<string>;
}

const INSTALL_FFMPEG = 'install ffmpeg with libx264 (apt install ffmpeg, brew install ffmpeg, or a static build from https://ffmpeg.org/download.html)';

/** ffmpeg's verdict: found, and with every encoder, muxer and filter the pipelines use. */
export function ffmpegVerdict(path: string, found: FfmpegFound | { error: string }): Check {
  if ('error' in found) return { name: 'ffmpeg', verdict: 'fail', detail: `not usable at FFMPEG_PATH=${path}: ${found.error}`, fix: `${INSTALL_FFMPEG}, or set FFMPEG_PATH to its path` };
  const missing = (Object.keys(FFMPEG_NEEDS) as Array<keyof typeof FFMPEG_NEEDS>).flatMap((kind) =>
    FFMPEG_NEEDS[kind].filter((name) => !found[kind].has(name)).map((name) => `${name} (${kind.slice(0, -1)})`),
  );
  const version = versionWord(found.versionLine);
  if (missing.length) return { name: 'ffmpeg', verdict: 'fail', detail: `${version} lacks ${missing.join(', ')}`, fix: `${INSTALL_FFMPEG}: this build lacks what the pipelines use` };
  return { name: 'ffmpeg', verdict: 'ok', detail: `${version}: ${FFMPEG_NEEDS.encoders.join(', ')}; ${FFMPEG_NEEDS.muxers.filter((m) => m !== 'null').join(', ')} muxers; the filters the pipelines use` };
}

export function ffprobeVerdict(path: string, found: { versionLine: string } | { error: string }): Check {
  if ('error' in found) return { name: 'ffprobe', verdict: 'fail', detail: `not usable at FFPROBE_PATH=${path}: ${found.error}`, fix: `${INSTALL_FFMPEG} (ffprobe comes with it), or set FFPROBE_PATH` };
  return { name: 'ffprobe', verdict: 'ok', detail: versionWord(found.versionLine) };
}

/** `ffmpeg version 7.1.1-1+b1 Copyright ...` → `ffmpeg 7.1.1-1+b1`. */
function versionWord(line: string): string {
  const match = /^(\S+) version (\S+)/.exec(line);
  return match ? `${match[1]} ${match[2]}` : line.slice(0, 60);
}

/**
 * The names in `ffmpeg -encoders`, `-muxers` or `-filters`: each entry is a flags column (`V....D`,
 * ` E`, `..C`) and then the name; legend lines (`V..... = Video`) have `=` there instead.
 */
export function parseFfmpegList(output: string): Set<string> {
  const names = new Set<string>();
  for (const line of output.split('\n')) {
    const name = /^\s*[A-Z.|]{1,6}\s+(\S+)/.exec(line)?.[1];
    if (name && name !== '=') for (const part of name.split(',')) names.add(part);
  }
  return names;
}

/** nats-server's sync_interval as /varz or a config file gives it, in the words the start banner uses. */
export function syncVerdict(sync: { value: string; source: string } | null): Check {
  if (!sync) {
    return {
      name: 'nats sync',
      verdict: 'skip',
      detail: 'unknown: a client cannot read it; set NATS_MONITOR_URL (the server\'s http monitoring port) to check',
      fix: 'sync_interval: always in the server\'s jetstream block makes every acknowledged write survive a machine crash (docs/operations.md)',
    };
  }
  if (sync.value === 'always') return { name: 'nats sync', verdict: 'ok', detail: `sync_interval: always (${sync.source}): each write is on disk before its ack` };
  return {
    name: 'nats sync',
    verdict: 'warn',
    detail: `sync_interval: ${sync.value} (${sync.source}): a machine crash can lose up to ${sync.value} of acknowledged writes`,
    fix: 'set sync_interval: always in the jetstream block (NATS_SYNC_INTERVAL=always for the server framewire start runs)',
  };
}

/** nanoseconds (as /varz reports sync_interval) as a Go duration: 120000000000 → `2m`. */
export function goDuration(ns: number): string {
  const s = ns / 1e9;
  if (s >= 3600 && s % 3600 === 0) return `${s / 3600}h`;
  if (s >= 60 && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

const GIB = 1024 ** 3;

/** Free space where NATS keeps its store: under 1 GiB is a warning, under 100 MiB a failure (JetStream stops writing when full). */
export function diskVerdict(dir: string, freeBytes: number): Check {
  const free = freeBytes >= GIB ? `${(freeBytes / GIB).toFixed(1)} GiB` : `${Math.round(freeBytes / 1024 ** 2)} MiB`;
  if (freeBytes < 100 * 1024 ** 2) return { name: 'nats disk', verdict: 'fail', detail: `${free} free under ${dir}`, fix: 'free disk space there: JetStream refuses writes when its disk is full' };
  if (freeBytes < GIB) return { name: 'nats disk', verdict: 'warn', detail: `${free} free under ${dir}`, fix: 'free disk space there before the event log and uploads fill it' };
  return { name: 'nats disk', verdict: 'ok', detail: `${free} free under ${dir}` };
}

/** The migrations of the read model applied to its active schema, against the ones this release has. */
export function migrationsVerdict(schema: string | null, applied: string[], known: string[]): Check {
  if (schema === null) return { name: 'migrations', verdict: 'ok', detail: 'no read model yet: the jobs service creates and migrates it at its first start' };
  const pending = known.filter((name) => !applied.includes(name));
  if (pending.length === 0) return { name: 'migrations', verdict: 'ok', detail: `${applied.length} applied in ${schema}, none pending` };
  return {
    name: 'migrations',
    verdict: 'warn',
    detail: `${pending.length} of ${known.length} not applied in ${schema} yet (${pending.join(', ')})`,
    fix: 'start the jobs service (framewire start): it applies them before it projects',
  };
}

/** The event stream and how far the read model has projected it (GET /v1/system's lag). */
export interface StreamFigures {
  stream: string;
  messages: number;
  lastSeq: number;
  /** The read model's checkpoint; null when PostgreSQL could not be read. */
  checkpoint: number | null;
}

/** Events behind past which the projector is called lagging (a burst is a few hundred behind for a moment). */
export const PROJECTOR_LAG_WARNING = 1000;

export function projectorVerdict(figures: StreamFigures): Check {
  const lag = figures.checkpoint === null ? null : Math.max(0, figures.lastSeq - figures.checkpoint);
  const detail = `${figures.stream}: ${figures.messages} events; read model at seq ${figures.checkpoint ?? '?'} of ${figures.lastSeq} (lag ${lag ?? '?'})`;
  if (lag !== null && lag > PROJECTOR_LAG_WARNING) {
    return { name: 'projector', verdict: 'warn', detail, fix: 'is the jobs service running? It projects the stream; its log says why it is behind' };
  }
  return { name: 'projector', verdict: lag === null ? 'skip' : 'ok', detail };
}

export function parkedVerdict(parked: number | null): Check {
  if (parked === null) return { name: 'parked events', verdict: 'skip', detail: 'unknown (no read model)' };
  if (parked === 0) return { name: 'parked events', verdict: 'ok', detail: 'none' };
  return { name: 'parked events', verdict: 'warn', detail: `${parked} event(s) the read model went on without`, fix: 'framewire replay --verify names the jobs; GET /v1/system lists the recent ones (docs/debugging.md)' };
}

export function deadLettersVerdict(deadLetters: number | null): Check {
  if (deadLetters === null) return { name: 'dead letters', verdict: 'skip', detail: 'unknown (no read model)' };
  if (deadLetters === 0) return { name: 'dead letters', verdict: 'ok', detail: 'none' };
  return { name: 'dead letters', verdict: 'warn', detail: `${deadLetters} job(s) failed for good`, fix: 'framewire dlq lists them; framewire redrive <jobId> runs one again' };
}
