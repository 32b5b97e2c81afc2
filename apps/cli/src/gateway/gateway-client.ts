import { Option, type Command } from 'commander';
import { ErrorCode, type ErrorBody } from '@app/contracts';

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
 * The code of a GatewayError: the API's own, or the CLI's when there is no API answer to read (no
 * gateway, no file to send, a body that is not the API's: `HTTP_<status>`).
 */
export type GatewayErrorCode = ErrorCode | 'UNREACHABLE' | 'FILE_NOT_FOUND' | `HTTP_${number}`;

/** An error answer of the API (`{"error":{"code","message"}}`) or a gateway that did not answer. */
export class GatewayError extends Error {
  constructor(
    readonly status: number,
    readonly code: GatewayErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

export function authHeaders(options: Pick<GatewayOptions, 'apiKey'>): Record<string, string> {
  return options.apiKey ? { Authorization: `Bearer ${options.apiKey}` } : {};
}

export function gatewayUrl(options: Pick<GatewayOptions, 'url'>, path: string): URL {
  return new URL(path, options.url.endsWith('/') ? options.url : `${options.url}/`);
}

/** Reads an error body, whatever the gateway sent. */
export async function errorFromResponse(res: Response): Promise<GatewayError> {
  return errorFromBody(res.status, await res.text().catch(() => ''), res.statusText);
}

/**
 * The error that an answer with `status` and body `text` means: the API's code when the body is the
 * API's error; otherwise (a proxy's page, say) UNAUTHENTICATED for a 401, as the gateway says it,
 * and `HTTP_<status>` for any other status.
 */
export function errorFromBody(status: number, text: string, statusText = ''): GatewayError {
  try {
    const body = JSON.parse(text) as Partial<ErrorBody> | null;
    if (body?.error?.code) return new GatewayError(status, body.error.code, body.error.message ?? '');
  } catch {
    // not JSON
  }
  return new GatewayError(status, status === 401 ? ErrorCode.Unauthenticated : `HTTP_${status}`, text.slice(0, 200) || statusText);
}

export async function getJson<T>(options: GatewayOptions, path: string): Promise<T> {
  return requestJson<T>(options, 'GET', path);
}

/** A POST (or, with `method`, a DELETE) without a body: a command on a job, answered with JSON. */
export async function postJson<T>(options: GatewayOptions, path: string, method: 'POST' | 'DELETE' = 'POST'): Promise<T> {
  return requestJson<T>(options, method, path);
}

/** A POST or PATCH with a JSON body (creating or changing a resource), answered with JSON. */
export async function sendJson<T>(options: GatewayOptions, method: 'POST' | 'PATCH', path: string, body: unknown): Promise<T> {
  return requestJson<T>(options, method, path, body);
}

/** Every call to the API goes through here, so that each reports an unreachable gateway and an error answer alike. */
async function requestJson<T>(options: GatewayOptions, method: 'GET' | 'POST' | 'PATCH' | 'DELETE', path: string, body?: unknown): Promise<T> {
  const headers: Record<string, string> = { Accept: 'application/json', ...authHeaders(options) };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(gatewayUrl(options, path), { method, headers, ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (error) {
    throw unreachable(options, error);
  }
  if (!res.ok) throw await errorFromResponse(res);
  return (await res.json()) as T;
}

export function unreachable(options: GatewayOptions, error: unknown): GatewayError {
  const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
  return new GatewayError(0, 'UNREACHABLE', `no gateway at ${options.url} (${cause}); set --url or FRAMEWIRE_URL`);
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
      if (!(error instanceof GatewayError)) throw error;
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
