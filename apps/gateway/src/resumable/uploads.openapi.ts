import { z } from 'zod';
import type { ApiDocs } from '../docs/openapi.registry.js';

const tusResumable = z.literal('1.0.0').meta({ description: 'The tus protocol version (every request but OPTIONS)' });
const uploadId = z.object({ id: z.string().meta({ description: 'The upload id, from the creation\'s Location' }) });
const offsetHeaders = z.object({ 'Upload-Offset': z.string(), 'Upload-Expires': z.string().optional(), 'Tus-Resumable': z.string() });

/** The documentation of /v1/uploads (tus 1.0.0); docs/http-api.md tells the protocol in full. */
export function registerUploadsRoutes({ registry, errors }: ApiDocs): void {
  registry.registerPath({
    method: 'options',
    path: '/v1/uploads',
    operationId: 'getUploadCapabilities',
    tags: ['uploads'],
    summary: 'tus discovery',
    description: 'Tus-Version, Tus-Extension (creation, creation-with-upload, termination, expiration, checksum), Tus-Max-Size and Tus-Checksum-Algorithm (sha256).',
    responses: { 204: { description: 'The server\'s tus capabilities, in headers' } },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/uploads',
    operationId: 'createUpload',
    tags: ['uploads'],
    summary: 'Create a resumable upload (tus creation, creation-with-upload)',
    description:
      '`Upload-Metadata` (tus: comma-separated `key base64value`) carries `filename`, `pipeline`, `params` (JSON), `priority` and optionally `idempotency_key`, checked now as POST /v1/jobs checks its fields. ' +
      'A body (`Content-Type: application/offset+octet-stream`) is the first bytes. The upload expires UPLOAD_EXPIRES_MS after its creation (`Upload-Expires`).',
    request: { headers: z.object({ 'Tus-Resumable': tusResumable, 'Upload-Length': z.string(), 'Upload-Metadata': z.string().optional() }) },
    responses: {
      201: { description: 'Created', headers: z.object({ Location: z.string(), 'Upload-Expires': z.string(), 'Upload-Offset': z.string().optional(), 'Framewire-Job-Id': z.string().optional() }) },
      ...errors(400, 413, 415, 503, 507),
    },
  });
  registry.registerPath({
    method: 'head',
    path: '/v1/uploads/{id}',
    operationId: 'getUploadOffset',
    tags: ['uploads'],
    summary: 'An upload\'s offset (where to resume)',
    description: 'Upload-Offset, Upload-Length and Upload-Metadata; with `Framewire-Job-Id` once the upload has become a job. Another tenant\'s upload is 404.',
    request: { params: uploadId, headers: z.object({ 'Tus-Resumable': tusResumable }) },
    responses: { 200: { description: 'The upload', headers: offsetHeaders.extend({ 'Upload-Length': z.string(), 'Framewire-Job-Id': z.string().optional() }) }, ...errors(404, 410, 503) },
  });
  registry.registerPath({
    method: 'patch',
    path: '/v1/uploads/{id}',
    operationId: 'appendToUpload',
    tags: ['uploads'],
    summary: 'Append bytes at Upload-Offset (tus core, checksum)',
    description:
      'The body (`Content-Type: application/offset+octet-stream`) is appended at `Upload-Offset`, which must be the upload\'s offset. The new offset is answered once JetStream holds every byte below it. ' +
      'With `Upload-Checksum: sha256 <base64>`, a body that does not match is refused with 460 and none of it kept. The first bytes are sniffed as soon as they arrive (415 UNSUPPORTED_MEDIA). ' +
      'The PATCH that brings the last byte makes the job as POST /v1/jobs does, and answers its id in `Framewire-Job-Id`.',
    request: { params: uploadId, headers: z.object({ 'Tus-Resumable': tusResumable, 'Upload-Offset': z.string(), 'Upload-Checksum': z.string().optional() }) },
    responses: {
      204: { description: 'Stored up to the new offset', headers: offsetHeaders.extend({ 'Framewire-Job-Id': z.string().optional() }) },
      ...errors(400, 404, 409, 410, 413, 415, 422, 460, 503, 507),
    },
  });
  registry.registerPath({
    method: 'delete',
    path: '/v1/uploads/{id}',
    operationId: 'terminateUpload',
    tags: ['uploads'],
    summary: 'Terminate an upload (tus termination)',
    request: { params: uploadId, headers: z.object({ 'Tus-Resumable': tusResumable }) },
    responses: { 204: { description: 'Deleted, bytes and state' }, ...errors(404, 503) },
  });
}
