import { z } from 'zod';
import { artifactViewSchema, jobArtifactsSchema, jobMediaLinksSchema } from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';
import { jobIdParams } from '../jobs/jobs.openapi.js';

const ARTIFACT_DESCRIPTION =
  'Served with its stored content type (`application/vnd.apple.mpegurl` for a playlist, `video/mp4` for a rendition), whole or one byte range ' +
  '(206 with Content-Range; 416 outside the file). Its ETag is the SHA-256 of its bytes. `Cache-Control: private, no-cache`: the bytes of an ' +
  'attempt never change, but the URL names the job\'s current artifacts, which a redrive or a deletion changes, so a cache revalidates ' +
  '(If-None-Match, answered 304 without reading the file).';

/** The documentation of a job's files: its result, artifacts and original upload. */
export function registerJobFilesRoutes({ registry, component, errors, json }: ApiDocs): void {
  const artifact = component('Artifact', artifactViewSchema, 'A file a pipeline wrote (thumbnail, sprite, rendition)');
  const result = component(
    'PipelineResult',
    z
      .object({
        total_frames: z.number().int().nullable(),
        frames: z.array(z.object({ frame_index: z.number().int(), timestamp: z.number() }).loose()),
        summary: z.object({ frame_count: z.number().int() }).loose(),
        tools: z.record(z.string(), z.object({ summary: z.record(z.string(), z.unknown()), data: z.record(z.string(), z.unknown()).optional() })),
      })
      .loose(),
    'The result of a completed job: frames merged by index across tools, a summary, and each tool\'s own output',
  );
  const binary = (description: string) => ({ description, content: { 'application/octet-stream': { schema: z.string().meta({ format: 'binary' }) } } });
  const artifactParams = jobIdParams.extend({ name: z.string().meta({ description: 'A plain file name, as listed' }) });
  const fileHeaders = z.object({
    Range: z.string().optional().meta({ description: 'One range, e.g. `bytes=0-1023`; several are served whole' }),
    'If-None-Match': z.string().optional().meta({ description: 'The ETag the caller has: 304 when it is still the artifact\'s' }),
  });
  const fileResponses = {
    200: binary('The artifact, whole (its own content type, Content-Length, ETag, `Cache-Control: private, no-cache`)'),
    206: binary('The requested range, with Content-Range'),
    304: { description: 'The caller\'s copy (If-None-Match) is current' },
    ...errors(400, 404, 416, 503),
  };

  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/result',
    operationId: 'getJobResult',
    tags: ['files'],
    summary: 'A completed job\'s result',
    description: 'Inline or, when it was too large for the event, streamed from the Object Store. 409 until the job has completed.',
    request: { params: jobIdParams },
    responses: { 200: json('The result', result), ...errors(400, 404, 409, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/artifacts',
    operationId: 'listJobArtifacts',
    tags: ['files'],
    summary: 'A job\'s artifacts',
    request: { params: jobIdParams },
    responses: {
      200: json('The artifacts (empty until completed)', jobArtifactsSchema.extend({ artifacts: artifact.array() })),
      ...errors(400, 404, 503),
    },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/artifacts/{name}',
    operationId: 'getJobArtifact',
    tags: ['files'],
    summary: 'One artifact, streamed with its content type',
    description: ARTIFACT_DESCRIPTION,
    request: { params: artifactParams, headers: fileHeaders },
    responses: fileResponses,
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/media/{token}/{name}',
    operationId: 'getJobMediaFile',
    tags: ['files'],
    summary: 'One artifact, opened by the job\'s media link in the path (for HLS players)',
    description:
      'The same file as `/v1/jobs/{id}/artifacts/{name}`, authorized by the media link token in the path and by nothing else ' +
      '(an Authorization header or `?token=` is ignored): an altered, expired or another job\'s token is 401, an artifact the job does not have 404. ' +
      'A player resolves the URIs inside a playlist (or a WebVTT storyboard) against the playlist\'s URL, which keeps the path and drops the query, ' +
      'so `hls_url` from POST /v1/jobs/{id}/media-links opens every playlist and file it names. Any origin may read it ' +
      '(`Access-Control-Allow-Origin: *`, Range allowed in a preflight, Content-Range and ETag exposed). ' +
      ARTIFACT_DESCRIPTION,
    request: {
      params: artifactParams.extend({ token: z.string().meta({ description: 'The `token` of POST /v1/jobs/{id}/media-links' }) }),
      headers: fileHeaders,
    },
    responses: fileResponses,
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/video',
    operationId: 'getJobVideo',
    tags: ['files'],
    summary: 'The original upload, with Range support',
    request: {
      params: jobIdParams,
      headers: z.object({ Range: z.string().optional().meta({ description: 'One range, e.g. `bytes=0-1023`; several are served whole' }) }),
    },
    responses: {
      200: binary('The whole upload'),
      206: binary('The requested range, with Content-Range'),
      ...errors(400, 404, 416, 503),
    },
  });
  registry.registerPath({
    method: 'post',
    path: '/v1/jobs/{id}/media-links',
    operationId: 'createJobMediaLinks',
    tags: ['files'],
    summary: 'Signed, short-lived links to the job\'s video and artifacts',
    description:
      'For what cannot send an Authorization header (a `<video>` element, a download link, a browser\'s EventSource or WebSocket): ' +
      'each URL carries `?token=`, which opens this job\'s video, artifacts and live streams, as the key that asked, until `expires_at` ' +
      '(MEDIA_LINK_TTL_MS). It opens no other job; an altered or expired token is 401. `hls_url` (a job with an HLS output) and ' +
      '`storyboard_url` (a job with a storyboard) carry the token in the path instead (GET /v1/jobs/{id}/media/{token}/{name}), for players.',
    request: { params: jobIdParams },
    responses: {
      200: json(
        'The links',
        // Each link's artifact refers to the Artifact component, and adds its url.
        component('MediaLinks', jobMediaLinksSchema.extend({ artifacts: artifact.extend({ url: z.string() }).array() })),
      ),
      ...errors(400, 404, 503),
    },
  });
}
