import { Controller, Get } from '@nestjs/common';
import type { PipelinesResponse } from '@app/contracts';
import { describePipeline, describeTool, ToolCatalog } from '@app/tools';

/** The pipelines and tools this installation runs, with the JSON schema of their params. */
@Controller('v1/pipelines')
export class PipelinesController {
  constructor(private readonly catalog: ToolCatalog) {}

  @Get()
  list(): PipelinesResponse {
    return {
      pipelines: this.catalog.list().map(describePipeline),
      tools: this.catalog.listTools().map(({ tool, source }) => describeTool(tool, source)),
    };
  }
}
