import { z } from 'zod';

/** A JSON Schema document (of a tool's or a pipeline's params). */
const jsonSchemaSchema = z.record(z.string(), z.unknown()).meta({ description: 'A JSON Schema' });

/** A tool as GET /v1/pipelines shows it. */
export const toolInfoSchema = z.object({
  name: z.string(),
  version: z.string(),
  description: z.string(),
  source: z.string(),
  reads_input: z.boolean(),
  params_schema: jsonSchemaSchema,
});
export type ToolInfo = z.infer<typeof toolInfoSchema>;

/** A pipeline's own media limits, each present only where the pipeline sets it. */
export const pipelineMediaLimitsSchema = z
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
  });
export type PipelineMediaLimits = z.infer<typeof pipelineMediaLimitsSchema>;

/** A pipeline as GET /v1/pipelines shows it. */
export const pipelineInfoSchema = z.object({
  name: z.string(),
  description: z.string(),
  source: z.string().meta({ description: '`builtin` or the plugin package that brought it' }),
  tools: z.array(z.object({ name: z.string(), version: z.string(), description: z.string() })),
  max_attempts: z
    .number()
    .int()
    .positive()
    .nullable()
    .meta({ description: 'Attempts a job gets before a transient failure is final; null: the workers\' default (WORKER_MAX_DELIVER), which also caps it' }),
  media_limits: pipelineMediaLimitsSchema,
  params_schema: jsonSchemaSchema,
});
export type PipelineInfo = z.infer<typeof pipelineInfoSchema>;

/** `GET /v1/pipelines`: the pipelines and tools this installation runs. */
export const pipelinesResponseSchema = z.object({ pipelines: z.array(pipelineInfoSchema), tools: z.array(toolInfoSchema) });
export type PipelinesResponse = z.infer<typeof pipelinesResponseSchema>;
