import { z } from 'zod';
import { artifactViewSchema, jobArtifactsSchema, jobMediaLinksSchema } from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';
import { jobIdParams } from '../jobs/jobs.openapi.js';

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

  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/result',
    tags: ['jobs'],
    summary: 'A completed job\'s result',
    description: 'Inline or, when it was too large for the event, streamed from the Object Store. 409 until the job has completed.',
    request: { params: jobIdParams },
    responses: { 200: json('The result', result), ...errors(400, 404, 409, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/artifacts',
    tags: ['jobs'],
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
    tags: ['jobs'],
    summary: 'One artifact, streamed with its content type',
    request: { params: jobIdParams.extend({ name: z.string().meta({ description: 'A plain file name, as listed' }) }) },
    responses: { 200: binary('The artifact (its own content type, Content-Length, ETag)'), ...errors(400, 404, 503) },
  });
  registry.registerPath({
    method: 'get',
    path: '/v1/jobs/{id}/video',
    tags: ['jobs'],
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
    tags: ['jobs'],
    summary: 'Signed, short-lived links to the job\'s video and artifacts',
    description:
      'For what cannot send an Authorization header (a `<video>` element, a download link, a browser\'s EventSource or WebSocket): ' +
      'each URL carries `?token=`, which opens this job\'s video, artifacts and live streams, as the key that asked, until `expires_at` ' +
      '(MEDIA_LINK_TTL_MS). It opens no other job; an altered or expired token is 401.',
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
