import { Injectable } from '@nestjs/common';
import { FfprobeRunner } from '../../media/ffprobe.runner.js';
import type { Pipeline, PipelineContext } from '../pipeline.js';
import { toProbeResult } from './probe-result.js';

/** `probe`: container and stream metadata from ffprobe. */
@Injectable()
export class ProbePipeline implements Pipeline {
  readonly name = 'probe';
  readonly needsInput = true;

  constructor(private readonly ffprobe: FfprobeRunner) {}

  async run(ctx: PipelineContext): Promise<Record<string, unknown>> {
    return toProbeResult(await this.ffprobe.probe(ctx.inputPath, ctx.signal));
  }
}
