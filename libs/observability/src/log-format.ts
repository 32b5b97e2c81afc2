/**
 * How log records are written: `json`, one pino record per line, for machines (piped, in containers,
 * collected); `pretty`, one short coloured line per record, for a person at a terminal.
 */
export type LogFormat = 'json' | 'pretty';

/** LOG_FORMAT when set; else pretty on a terminal and JSON anywhere else. */
export function resolveLogFormat(configured: LogFormat | undefined, stream: { isTTY?: boolean } = process.stdout): LogFormat {
  return configured ?? (stream.isTTY ? 'pretty' : 'json');
}

/** Colours only for a terminal, and not when NO_COLOR asks for none (https://no-color.org). */
export function useColour(stream: { isTTY?: boolean } = process.stdout, env: NodeJS.ProcessEnv = process.env): boolean {
  return stream.isTTY === true && !env['NO_COLOR'];
}

const ANSI = { dim: 2, bold: 1, red: 31, green: 32, yellow: 33, blue: 34, magenta: 35, cyan: 36, grey: 90 } as const;
type Style = keyof typeof ANSI;

const LEVEL_STYLE: Record<string, Style> = { trace: 'grey', debug: 'blue', info: 'green', warn: 'yellow', error: 'red', fatal: 'magenta' };
/** pino's numeric levels, for records written without the label formatter. */
const LEVEL_NAMES: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'fatal' };

/**
 * Fields the pretty line leaves out: what every line has (pid, hostname), what is shown in its own
 * place (time, level, service, msg, the ids, err), and trace context (trace_id, span_id), which is
 * for a tracing backend and would double the line's width; the JSON format keeps them all.
 */
const SHOWN_OR_DROPPED = new Set(['time', 'level', 'service', 'context', 'msg', 'pid', 'hostname', 'jobId', 'correlationId', 'trace_id', 'span_id', 'trace_flags', 'err', 'v']);

export interface PrettyOptions {
  colour: boolean;
  /** The name shown for the service (e.g. `worker-2` for the second worker) instead of the record's own. */
  service?: string;
}

/**
 * One JSON log line as a person reads it: `12:00:01.250 INFO  jobs      [Context] message job=… corr=… key=value`,
 * then an error's stack, indented. A line that is not a JSON record (a stack trace, a library's own
 * output) comes back as it was.
 */
export function prettyLogLine(line: string, options: PrettyOptions): string {
  const record = parseRecord(line);
  return record ? prettyRecord(record, options) : line;
}

/**
 * One JSON log line for a person's console (`framewire start` on a terminal): as prettyLogLine, but
 * null for one of Nest's boot lines (a module initialized, a route mapped), which say nothing to a
 * person (`LOG_FORMAT=json` and the services' own output keep them). The line is parsed once.
 */
export function consoleLogLine(line: string, options: PrettyOptions): string | null {
  const record = parseRecord(line);
  if (!record) return line;
  return isNestBoot(record) ? null : prettyRecord(record, options);
}

function prettyRecord(record: Record<string, unknown>, options: PrettyOptions): string {
  const paint = (style: Style, text: string) => (options.colour ? `\u001b[${ANSI[style]}m${text}\u001b[0m` : text);
  const level = typeof record['level'] === 'number' ? (LEVEL_NAMES[record['level']] ?? String(record['level'])) : String(record['level'] ?? 'info');
  const service = options.service ?? String(record['service'] ?? '');
  const ids = [idField('job', record['jobId']), idField('corr', record['correlationId'])].filter(Boolean).join(' ');
  const extras = Object.entries(record)
    .filter(([key, value]) => !SHOWN_OR_DROPPED.has(key) && value !== undefined && value !== null)
    .map(([key, value]) => `${key}=${compact(value)}`)
    .join(' ');
  const err = record['err'] as { message?: string; stack?: string } | undefined;
  const message = [String(record['msg'] ?? ''), err?.message && !String(record['msg'] ?? '').includes(err.message) ? err.message : ''].filter(Boolean).join(': ');
  const head = [
    paint('dim', clock(record['time'])),
    paint(LEVEL_STYLE[level] ?? 'bold', level.toUpperCase().padEnd(5)),
    paint('cyan', service.padEnd(9)),
    // Nest's logger names the class that wrote the line.
    typeof record['context'] === 'string' ? paint('dim', `[${record['context']}]`) : '',
    message,
    ids ? paint('grey', ids) : '',
    extras ? paint('dim', extras) : '',
  ]
    .filter(Boolean)
    .join(' ');
  const stack = err?.stack && (level === 'error' || level === 'fatal') ? `\n${paint('dim', indentStack(err.stack))}` : '';
  return head + stack;
}

/** The classes of Nest that log every module and route as an app boots: dozens of lines that say nothing to a person. */
const NEST_BOOT_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer', 'NestFactory']);

/** One of Nest's boot lines, at info: a warning from the same classes is still shown. */
function isNestBoot(record: Record<string, unknown>): boolean {
  return typeof record['context'] === 'string' && NEST_BOOT_CONTEXTS.has(record['context']) && (record['level'] === 'info' || record['level'] === 30);
}

function parseRecord(line: string): Record<string, unknown> | null {
  if (!line.startsWith('{')) return null;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null && !Array.isArray(value) && 'level' in value ? (value as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** `job=0193a6f0…`: the first 8 characters of an id are enough to tell jobs apart on a screen; grep the JSON for the rest. */
function idField(name: string, value: unknown): string {
  if (typeof value !== 'string' || !value) return '';
  return `${name}=${value.length > 12 ? `${value.slice(0, 8)}…` : value}`;
}

/** The wall-clock time of a record (ISO or epoch ms) as HH:MM:SS.mmm, local time. */
function clock(time: unknown): string {
  const date = typeof time === 'string' || typeof time === 'number' ? new Date(time) : new Date();
  if (Number.isNaN(date.getTime())) return String(time);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  return `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}.${pad(date.getMilliseconds(), 3)}`;
}

function compact(value: unknown): string {
  if (typeof value === 'string') return /\s/.test(value) ? JSON.stringify(value) : value;
  return JSON.stringify(value);
}

function indentStack(stack: string): string {
  return stack
    .split('\n')
    .map((line) => `    ${line.trim()}`)
    .join('\n');
}
