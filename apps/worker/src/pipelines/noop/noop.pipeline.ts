import { Injectable } from '@nestjs/common';
import type { Pipeline } from '../pipeline.js';

/** `noop`: the lifecycle of a job with no work in it, so the queue's own cost can be measured. */
@Injectable()
export class NoopPipeline implements Pipeline {
  readonly name = 'noop';
  readonly needsInput = false;

  async run(): Promise<Record<string, unknown>> {
    return {};
  }
}
