import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import { request as httpRequest, type IncomingMessage } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { basename, extname } from 'node:path';
import { Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import FormData from 'form-data';
import type { JobSubmitted } from '@app/contracts';
import { authHeaders, errorFromBody, gatewayUrl, unreachable, type GatewayOptions } from '../gateway/gateway-client.js';

export interface SubmitFields {
  pipeline?: string;
  params?: string;
  priority?: string;
}

const CONTENT_TYPES: Record<string, string> = {
  '.mp4': 'video/mp4',
  '.m4v': 'video/mp4',
  '.mov': 'video/quicktime',
  '.mkv': 'video/x-matroska',
  '.webm': 'video/webm',
  '.avi': 'video/x-msvideo',
};

/**
 * POST /v1/jobs as a multipart stream (form-data): the file is read from disk as it is sent, never
 * held in memory, and `onProgress` sees the bytes handed to the socket against the known total.
 */
export async function uploadVideo(
  options: GatewayOptions,
  path: string,
  fields: SubmitFields,
  onProgress: (sent: number, total: number) => void,
): Promise<JobSubmitted> {
  const size = (await stat(path)).size;
  const form = new FormData();
  if (fields.pipeline) form.append('pipeline', fields.pipeline);
  if (fields.params) form.append('params', fields.params);
  if (fields.priority) form.append('priority', fields.priority);
  form.append('file', createReadStream(path), {
    filename: basename(path),
    contentType: CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
    knownLength: size,
  });
  const total = form.getLengthSync();
  const url = gatewayUrl(options, 'v1/jobs');
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  const req = send(url, {
    method: 'POST',
    headers: { ...form.getHeaders(), 'Content-Length': String(total), Accept: 'application/json', ...authHeaders(options) },
  });
  const response = new Promise<IncomingMessage>((resolve, reject) => {
    req.once('response', resolve);
    req.once('error', reject);
  });
  let sent = 0;
  const meter = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      sent += chunk.length;
      onProgress(sent, total);
      done(null, chunk);
    },
  });
  // The gateway may answer (and close) before the upload ends, for a bad field say: its answer wins.
  const uploaded = pipeline(form, meter, req).catch((error: unknown) => error);
  let res: IncomingMessage;
  try {
    res = await response;
  } catch (error) {
    throw unreachable(options, error);
  }
  const body = await readBody(res);
  await uploaded;
  if (res.statusCode !== 202 && res.statusCode !== 200) throw errorFromBody(res.statusCode ?? 0, body, res.statusMessage);
  return JSON.parse(body) as JobSubmitted;
}

async function readBody(res: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of res) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
