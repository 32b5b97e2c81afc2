import { pipelineInfoSchema, pipelinesResponseSchema, toolInfoSchema } from '@app/contracts';
import type { ApiDocs } from '../docs/openapi.registry.js';

/** The documentation of GET /v1/pipelines. */
export function registerPipelinesRoutes({ registry, component, json }: ApiDocs): void {
  const tool = component('Tool', toolInfoSchema);
  const pipeline = component('Pipeline', pipelineInfoSchema);
  registry.registerPath({
    method: 'get',
    path: '/v1/pipelines',
    operationId: 'listPipelines',
    tags: ['jobs'],
    summary: 'The pipelines and tools this installation runs, with their params schemas',
    responses: { 200: json('Pipelines and tools', pipelinesResponseSchema.extend({ pipelines: pipeline.array(), tools: tool.array() })) },
  });
}
