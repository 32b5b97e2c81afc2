import { connect, type Socket } from 'node:net';

/** A response as it came over the wire: status, headers (lower-case names) and the body as text. */
export interface RawReply {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/**
 * Talks HTTP/1.1 over a plain socket, for requests that fetch refuses to send (a 10 MB header, a
 * wrong multipart boundary, both Content-Length and Transfer-Encoding, a body that stops midway).
 * `write` sends the request; the reply is read until the server closes or `timeoutMs` passes.
 * `from` is the client's address (another loopback address, 127.0.0.2 say, is another client).
 * Resolves with null when nothing came back.
 */
export async function rawRequest(port: number, write: (socket: Socket) => Promise<void> | void, timeoutMs = 10_000, from = '127.0.0.1'): Promise<RawReply | null> {
  const socket = connect({ port, host: '127.0.0.1', localAddress: from });
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined); // a reset after the reply is expected for refused uploads
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', reject);
  });
  const closed = new Promise<void>((resolve) => {
    socket.once('close', () => resolve());
    setTimeout(resolve, timeoutMs).unref();
  });
  try {
    await write(socket);
  } catch {
    // the server may close while we are still writing: read what it said
  }
  await closed;
  socket.destroy();
  return parseReply(Buffer.concat(chunks));
}

/** Writes `data` unless the socket has gone, resolving when it is flushed. */
export function send(socket: Socket, data: string | Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed) return reject(new Error('socket closed'));
    socket.write(data, (error) => (error ? reject(error) : resolve()));
  });
}

export function parseReply(raw: Buffer): RawReply | null {
  const text = raw.toString('latin1');
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const [statusLine, ...lines] = text.slice(0, end).split('\r\n');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(statusLine ?? '')?.[1] ?? 0);
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const colon = line.indexOf(':');
    if (colon > 0) headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
  }
  let body = raw.subarray(Buffer.byteLength(text.slice(0, end + 4), 'latin1'));
  if (headers['transfer-encoding'] === 'chunked') body = dechunk(body);
  else if (headers['content-length']) body = body.subarray(0, Number(headers['content-length']));
  return { status, headers, body: body.toString('utf8') };
}

function dechunk(body: Buffer): Buffer {
  const out: Buffer[] = [];
  let at = 0;
  for (;;) {
    const lineEnd = body.indexOf('\r\n', at);
    if (lineEnd < 0) break;
    const size = parseInt(body.subarray(at, lineEnd).toString('latin1'), 16);
    if (!size) break;
    out.push(body.subarray(lineEnd + 2, lineEnd + 2 + size));
    at = lineEnd + 2 + size + 2;
  }
  return Buffer.concat(out);
}

export interface Part {
  name: string;
  data: string | Uint8Array;
  filename?: string;
  type?: string;
}

/** A multipart/form-data body, built by hand so a test can get it wrong on purpose. */
export function multipart(parts: Part[], boundary = 'framewire-test-boundary'): { body: Buffer; contentType: string } {
  const chunks: Buffer[] = [];
  for (const part of parts) {
    const disposition = `form-data; name="${part.name}"${part.filename !== undefined ? `; filename="${part.filename}"` : ''}`;
    const type = part.filename !== undefined ? `\r\nContent-Type: ${part.type ?? 'video/mp4'}` : '';
    chunks.push(Buffer.from(`--${boundary}\r\nContent-Disposition: ${disposition}${type}\r\n\r\n`, 'latin1'));
    chunks.push(Buffer.from(part.data));
    chunks.push(Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${boundary}--\r\n`));
  return { body: Buffer.concat(chunks), contentType: `multipart/form-data; boundary=${boundary}` };
}
