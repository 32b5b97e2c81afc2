import { z } from 'zod';
import type { ApiDocs } from '../docs/openapi.registry.js';

/** The documentation of GET /v1/pipelines. */
export function registerPipelinesRoutes({ registry, component, json }: ApiDocs): void {
  const jsonSchema = z.record(z.string(), z.unknown()).meta({ description: 'A JSON Schema' });
  const tool = component(
    'Tool',
    z.object({ name: z.string(), version: z.string(), description: z.string(), source: z.string(), reads_input: z.boolean(), params_schema: jsonSchema }),
  );
  const pipeline = component(
    'Pipeline',
    z.object({
      name: z.string(),
      description: z.string(),
      source: z.string().meta({ description: '`builtin` or the plugin package that brought it' }),
      tools: z.array(z.object({ name: z.string(), version: z.string(), description: z.string() })),
      max_attempts: z.number().int().positive().nullable().meta({ description: 'Attempts a job gets before a transient failure is final; null: the workers\' default (WORKER_MAX_DELIVER), which also caps it' }),
      media_limits: z
        .object({
          max_duration_sec: z.number().positive().optional(),
          max_pixels: z.number().positive().optional(),
          max_fps: z.number().positive().optional(),
          max_frames: z.number().positive().optional(),
          max_streams: z.number().positive().optional(),
        })
        .meta({
          description:
            'The pipeline\'s own media limits, tighter than the workers\' (MEDIA_MAX_*, which apply too): a video over any fails INPUT_TOO_LARGE. Empty when the pipeline sets none',
        }),
      params_schema: jsonSchema,
    }),
  );
  registry.registerPath({
    method: 'get',
    path: '/v1/pipelines',
    tags: ['jobs'],
    summary: 'The pipelines and tools this installation runs, with their params schemas',
    responses: { 200: json('Pipelines and tools', z.object({ pipelines: z.array(pipeline), tools: z.array(tool) })) },
  });
}
