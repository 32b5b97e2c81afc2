import { setTimeout as sleep } from 'node:timers/promises';
import { Injectable } from '@nestjs/common';
import { ErrorCode, pipelineCatalog, summarizeIssues } from '@app/contracts';
import { JobFailure } from '../../work/job-failure.js';
import type { Pipeline, PipelineContext } from '../pipeline.js';

/**
 * `noop`: the lifecycle of a job with no work in it, so the queue's own cost can be measured. With
 * `sleep_ms` it waits that long without using the CPU, standing for a call to an external service
 * (the I/O-bound pipeline of the scaling benchmark).
 */
@Injectable()
export class NoopPipeline implements Pipeline {
  readonly name = 'noop';
  readonly needsInput = false;

  async run(ctx: PipelineContext): Promise<Record<string, unknown>> {
    const params = pipelineCatalog.noop.params.safeParse(ctx.params);
    if (!params.success) throw new JobFailure(ErrorCode.InvalidParams, `invalid params for noop: ${summarizeIssues(params.error)}`, true);
    if (params.data.sleep_ms) await sleep(params.data.sleep_ms, undefined, { signal: ctx.signal });
    return {};
  }
}
