import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pipeline } from 'node:stream/promises';
import type { GrowingFile } from './growing-file.js';

/** One file served over loopback HTTP: its address, and how to stop serving it. */
export interface ServedFile {
  /** `http://127.0.0.1:<port>/<token>`: the only address that answers with the file. */
  url: string;
  /** Stops listening and cuts every request still open. */
  close(): Promise<void>;
}

/**
 * Serves a GrowingFile to ffprobe and ffmpeg while it downloads, with byte ranges, so that they can
 * seek in it as in a file (an MP4 whose index comes last is read from its end first): a range not
 * written yet is sent as it arrives, and a request in flight when the download fails is cut off, so
 * the reader sees an error, never a short file. It listens on 127.0.0.1 on a port of the system's
 * choosing, for one attempt; the path is 128 random bits, so another process on the machine cannot
 * guess its way to the upload. Only GET and HEAD of that path are answered.
 */
export async function serveGrowingFile(file: GrowingFile): Promise<ServedFile> {
  const token = randomBytes(16).toString('hex');
  const server = createServer((request, response) => void answer(file, token, request, response));
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/${token}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function answer(file: GrowingFile, token: string, request: IncomingMessage, response: ServerResponse): Promise<void> {
  if (request.url !== `/${token}`) return end(response, 404);
  if (request.method !== 'GET' && request.method !== 'HEAD') return end(response, 405);
  const range = parseRange(request.headers.range, file.size);
  if (range === 'unsatisfiable') {
    response.writeHead(416, { 'Content-Range': `bytes */${file.size}` });
    response.end();
    return;
  }
  const { start, end: last } = range ?? { start: 0, end: file.size - 1 };
  const headers = { 'Accept-Ranges': 'bytes', 'Content-Type': 'application/octet-stream', 'Content-Length': String(last - start + 1) };
  if (range) response.writeHead(206, { ...headers, 'Content-Range': `bytes ${start}-${last}/${file.size}` });
  else response.writeHead(200, headers);
  if (request.method === 'HEAD' || last < start) {
    response.end();
    return;
  }
  // The headers (the size, that the file can be sought in) go out now, not with the first bytes,
  // which may still be on their way down.
  response.flushHeaders();
  // A failed download (or a reader that hung up) destroys the response: the reader sees the
  // connection cut before Content-Length bytes, an I/O error, never a short file that looks whole.
  await pipeline(file.follow(start, last), response).catch(() => response.destroy());
}

function end(response: ServerResponse, status: number): void {
  response.writeHead(status);
  response.end();
}

/**
 * A single `bytes=a-b`, `bytes=a-` or `bytes=-n` range (what ffmpeg sends), clipped to the file;
 * null for none (the whole file), 'unsatisfiable' for one that starts past the end or does not parse.
 */
export function parseRange(header: string | undefined, size: number): { start: number; end: number } | 'unsatisfiable' | null {
  if (header === undefined) return null;
  const match = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  if (!match || (match[1] === '' && match[2] === '')) return 'unsatisfiable';
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    return { start: Math.max(0, size - suffix), end: size - 1 };
  }
  const start = Number(match[1]);
  const end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
  if (start >= size || end < start) return size === 0 && start === 0 ? { start: 0, end: -1 } : 'unsatisfiable';
  return { start, end };
}
