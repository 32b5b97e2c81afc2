/**
 * The code of a FramewireError: the API's own (`JOB_NOT_FOUND`, `RATE_LIMITED`, …, listed in the
 * OpenAPI document's Error schema), `UNREACHABLE` when no answer came, `HTTP_<status>` when an answer
 * was not the API's (a proxy's page, say). A caller may use codes of its own (the CLI's FILE_NOT_FOUND).
 */
export type FramewireErrorCode = string;

/** An error answer of the API (`{"error":{"code","message"}}`), or a gateway that did not answer (status 0). */
export class FramewireError extends Error {
  constructor(
    readonly status: number,
    readonly code: FramewireErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FramewireError';
  }
}

/**
 * The error that an answer with `status` and body `text` means: the API's code when the body is the
 * API's error; otherwise UNAUTHENTICATED for a 401, as the gateway says it, and `HTTP_<status>` for
 * any other status.
 */
export function errorFromBody(status: number, text: string, statusText = ''): FramewireError {
  const body = parseJson(text);
  if (isErrorBody(body)) return new FramewireError(status, body.error.code, body.error.message ?? '');
  return new FramewireError(status, status === 401 ? 'UNAUTHENTICATED' : `HTTP_${status}`, text.slice(0, 200) || statusText);
}

/** What an answer that is not 2xx means, whatever its body. */
export async function errorFromResponse(res: Response): Promise<FramewireError> {
  return errorFromBody(res.status, await res.text().catch(() => ''), res.statusText);
}

/** No answer at all: the request never reached a gateway at `baseUrl`. */
export function unreachable(baseUrl: string, error: unknown): FramewireError {
  const cause = error instanceof Error ? ((error.cause as Error | undefined)?.message ?? error.message) : String(error);
  return new FramewireError(0, 'UNREACHABLE', `no gateway at ${baseUrl} (${cause})`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return null;
  }
}

function isErrorBody(body: unknown): body is { error: { code: string; message?: string } } {
  const error = (body as { error?: { code?: unknown } } | null)?.error;
  return typeof error?.code === 'string' && error.code.length > 0;
}
