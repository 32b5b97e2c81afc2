import { consoleLogLine, resolveLogFormat, useColour, type LogFormat } from '@app/observability';

/** The screen height assumed when the terminal does not say (piped output, a CI log). */
export const DEFAULT_SCREEN_ROWS = 24;

/**
 * Whether the banner should be printed again at the end of startup: the lines written after it,
 * with its own, no longer fit on one screen, so its top has scrolled out of sight.
 */
export function bannerScrolledAway(linesSince: number, bannerHeight: number, screenRows: number): boolean {
  return linesSince + bannerHeight > screenRows;
}

/**
 * The banner: what a newcomer needs from a start (where the dashboard is, the key, what it runs on),
 * set apart from the log lines around it by blank lines and a frame. The frame has no right-hand
 * side, so a line can be copied or grepped as it is (`API key: <key>`) and no width is assumed.
 */
export function frameBanner(title: string, lines: string[], width: number): string[] {
  const rule = (corner: string, label = '') => `${corner}${label ? `─ ${label} ` : ''}`.padEnd(width, '─');
  return ['', rule('┌', title), ...lines.map((line) => `│ ${line}`), rule('└'), ''];
}

interface Stream {
  write(text: string): unknown;
  isTTY?: boolean;
  rows?: number;
  columns?: number;
}

/**
 * What `framewire start` writes: its own lines (`[framewire] ...`), its services' output, and the
 * banner. Services write JSON; on a terminal (or with LOG_FORMAT=pretty) each record is shown as a
 * readable line instead, and piped (or with LOG_FORMAT=json) it stays JSON for the machines that
 * read it. It counts the lines it writes, to know whether the banner is still on the screen.
 */
export class StartConsole {
  private written = 0;
  private banner: { title: string; lines: string[]; at: number; height: number } | null = null;
  readonly format: LogFormat;
  private readonly colour: boolean;

  constructor(
    private readonly out: Stream = process.stdout,
    private readonly err: Stream = process.stderr,
    env: NodeJS.ProcessEnv = process.env,
  ) {
    const configured = env['LOG_FORMAT'];
    this.format = resolveLogFormat(configured === 'json' || configured === 'pretty' ? configured : undefined, out);
    this.colour = this.format === 'pretty' && useColour(out, env);
  }

  /** One of the start command's own lines. */
  say(line: string): void {
    this.write(this.out, `[framewire] ${line}`);
  }

  /**
   * A line a service wrote: a log record, pretty or JSON as the format says; anything else as it
   * came. Pretty leaves out Nest's boot lines (each module and route as an app starts).
   */
  service(name: string, stream: 'stdout' | 'stderr', line: string): void {
    if (stream === 'stderr') return this.write(this.err, line);
    if (this.format === 'json') return this.write(this.out, line);
    const pretty = consoleLogLine(line, { colour: this.colour, service: name });
    if (pretty !== null) this.write(this.out, pretty);
  }

  showBanner(title: string, lines: string[]): void {
    const framed = frameBanner(title, lines, Math.min(this.out.columns ?? 100, 100));
    for (const line of framed) this.write(this.out, line);
    this.banner = { title, lines, at: this.written, height: framed.length };
  }

  /** At the end of startup: the banner again if the lines since pushed it off the screen; true if it was. */
  repeatBannerIfScrolledAway(): boolean {
    if (!this.banner) return false;
    const rows = this.out.isTTY && this.out.rows ? this.out.rows : DEFAULT_SCREEN_ROWS;
    if (!bannerScrolledAway(this.written - this.banner.at, this.banner.height, rows)) return false;
    this.showBanner(`${this.banner.title} (again: startup logged more than a screen)`, this.banner.lines);
    return true;
  }

  private write(stream: Stream, text: string): void {
    stream.write(`${text}\n`);
    this.written += text.split('\n').length;
  }
}
