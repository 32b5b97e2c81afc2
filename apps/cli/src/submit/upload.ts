import { openAsBlob } from 'node:fs';
import { basename, extname } from 'node:path';
import type { JobSubmitted } from '@framewire/client';
import { clientFor, type GatewayOptions } from '../gateway/gateway-client.js';

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
 * POST /v1/jobs through the client: the file is a Blob backed by the file on disk (openAsBlob), read
 * as it is sent, never held in memory, and `onProgress` sees the body's bytes as they are sent.
 */
export async function uploadVideo(
  options: GatewayOptions,
  path: string,
  fields: SubmitFields,
  onProgress: (sent: number, total: number) => void,
): Promise<JobSubmitted> {
  const file = await openAsBlob(path, { type: CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream' });
  return clientFor(options).submit(file, {
    filename: basename(path),
    ...(fields.pipeline ? { pipeline: fields.pipeline } : {}),
    // Checked to be a JSON object by the command, sent as given.
    ...(fields.params ? { params: JSON.parse(fields.params) as Record<string, unknown> } : {}),
    ...(fields.priority ? { priority: fields.priority as 'high' | 'normal' | 'low' } : {}),
    onProgress,
  });
}
