import { Option, type Command } from 'commander';
import { createFramewireClient, FramewireError, type FramewireClient } from '@framewire/client';

/** Where the CLI finds the gateway and how it authenticates (FRAMEWIRE_API_KEY is ready for API keys). */
export interface GatewayOptions {
  url: string;
  apiKey?: string;
  json: boolean;
}

export const DEFAULT_GATEWAY_URL = 'http://127.0.0.1:3000';

/** Adds --url, --api-key and --json to a command that talks to the gateway. */
export function withGatewayOptions(command: Command): Command {
  return command
    .addOption(new Option('--url <url>', 'the gateway').env('FRAMEWIRE_URL').default(DEFAULT_GATEWAY_URL))
    .addOption(new Option('--api-key <key>', 'API key, sent as Authorization: Bearer').env('FRAMEWIRE_API_KEY'))
    .option('--json', 'print JSON for scripts instead of text', false);
}

/**
 * An error answer of the API (`{"error":{"code","message"}}`, its code the API's), a gateway that
 * did not answer (UNREACHABLE) or an answer not the API's (`HTTP_<status>`): the client's error,
 * which every call to the gateway throws; the CLI's own checks throw it too (FILE_NOT_FOUND, INVALID_PARAMS).
 */
export { FramewireError as GatewayError };

/**
 * The typed client (@framewire/client) every command calls the gateway through, so that what the
 * CLI sends is what the OpenAPI document says the gateway takes.
 */
export function clientFor(options: Pick<GatewayOptions, 'url' | 'apiKey'>): FramewireClient {
  return createFramewireClient({ baseUrl: options.url, ...(options.apiKey ? { apiKey: options.apiKey } : {}) });
}

/**
 * Runs a command's action: a GatewayError becomes one line on stderr (or a JSON error with --json)
 * and exit code 1; anything else is a bug and shows its stack.
 */
export function runAction<A extends unknown[]>(action: (...args: A) => Promise<number | void>) {
  return async (...args: A): Promise<void> => {
    const command = args.at(-1) as Command;
    const json = Boolean((command.opts() as { json?: boolean }).json);
    try {
      const code = await action(...args);
      process.exitCode = code ?? 0;
    } catch (error) {
      if (!(error instanceof FramewireError)) throw error;
      if (error.code === 'UNREACHABLE') error.message += '; set --url or FRAMEWIRE_URL';
      if (json) process.stdout.write(`${JSON.stringify({ error: { code: error.code, message: error.message } })}\n`);
      else process.stderr.write(`framewire: ${error.code}: ${error.message}\n`);
      process.exitCode = 1;
    }
  };
}

/** Columns padded to their widest cell. */
export function table(headers: string[], rows: string[][]): string {
  const widths = headers.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i]!))).join('  ').trimEnd();
  return [line(headers), ...rows.map(line)].join('\n');
}
