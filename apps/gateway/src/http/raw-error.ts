import { STATUS_CODES } from 'node:http';
import type { ErrorCode } from '@app/contracts';
import { errorBody } from './api-exception.filter.js';

/**
 * A whole HTTP/1.1 error response as text, in the API's JSON error shape, for the places that answer
 * on the raw socket because no route runs there: Node's parser refusing a request, a refused
 * WebSocket handshake. The connection closes after it.
 */
export function rawErrorResponse(status: number, code: ErrorCode, message: string, headers: Record<string, string> = {}): string {
  const body = JSON.stringify(errorBody(code, message));
  const extra = Object.entries(headers)
    .filter(([name, value]) => /^[A-Za-z0-9-]+$/.test(name) && !/[\r\n]/.test(value))
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('');
  return (
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: application/json; charset=utf-8\r\n${extra}` +
    `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`
  );
}
