import { CliError, ExitCode } from './exit-codes.js';
import { toCliError } from './cli-context.js';

export interface OutputOptions {
  json?: boolean;
}

/** Writes a line to stdout. */
export function out(line = ''): void {
  process.stdout.write(`${line}\n`);
}

export function outJson(value: unknown): void {
  process.stdout.write(`${JSON.stringify(value)}\n`);
}

/** Writes a note to stderr (progress, warnings): never mixed into what a script parses. */
export function note(line: string): void {
  process.stderr.write(`${line}\n`);
}

/**
 * Runs a command's action and exits with its code. A failure is one line on stderr
 * (`framewire: ...`), or with --json `{"error":{"code","message"}}`, and the exit code of its kind.
 */
export async function runCommand(options: OutputOptions, action: () => Promise<ExitCode>): Promise<never> {
  let code: ExitCode;
  try {
    code = await action();
  } catch (error) {
    const failure = toCliError(error);
    if (options.json) process.stderr.write(`${JSON.stringify({ error: { code: failure.code, message: failure.message } })}\n`);
    else process.stderr.write(`framewire: ${failure.message}\n`);
    code = failure.exitCode;
  }
  await flush();
  process.exit(code);
}

/** Lets stdout drain before exiting, so piped output is never cut. */
function flush(): Promise<void> {
  return new Promise((resolve) => (process.stdout.write('') ? resolve() : process.stdout.once('drain', () => resolve())));
}

/** Pads cells into aligned columns. */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) =>
    cells
      .map((cell, i) => (i === cells.length - 1 ? cell : cell.padEnd(widths[i]!)))
      .join('  ')
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

/** 1234 ms → "+1.23s"; null → "-". */
export function formatDelta(ms: number | null): string {
  if (ms === null) return '-';
  if (ms < 1000) return `+${ms}ms`;
  if (ms < 60_000) return `+${(ms / 1000).toFixed(2)}s`;
  if (ms < 3_600_000) return `+${Math.floor(ms / 60_000)}m${String(Math.round((ms % 60_000) / 1000)).padStart(2, '0')}s`;
  return `+${Math.floor(ms / 3_600_000)}h${String(Math.round((ms % 3_600_000) / 60_000)).padStart(2, '0')}m`;
}

export { CliError, ExitCode };
