import { Inject, Injectable } from '@nestjs/common';
import { PIPELINES, type Pipeline } from './pipeline.js';

@Injectable()
export class PipelineRegistry {
  private readonly byName: Map<string, Pipeline>;

  constructor(@Inject(PIPELINES) pipelines: Pipeline[]) {
    this.byName = new Map(pipelines.map((p) => [p.name, p]));
  }

  get(name: string): Pipeline | undefined {
    return this.byName.get(name);
  }

  names(): string[] {
    return [...this.byName.keys()];
  }
}
