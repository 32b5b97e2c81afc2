import { Injectable } from '@nestjs/common';
import {
  cancelJobReplySchema,
  deleteJobReplySchema,
  JobCommand,
  redriveJobReplySchema,
  scopeOf,
  type CancelOutcome,
  type DeleteOutcome,
  type Principal,
  type RedriveOutcome,
} from '@app/contracts';
import { JobsRpcClient } from '../rpc/jobs-rpc.client.js';

/**
 * Cancel, redrive and delete for a principal: commands to the jobs service, which appends their events (the
 * gateway's NATS user may not append lifecycle events). Scoped like every read: another tenant's job
 * is 404 JOB_NOT_FOUND.
 */
@Injectable()
export class JobCommandsClient {
  constructor(private readonly rpc: JobsRpcClient) {}

  cancel(principal: Principal, jobId: string): Promise<CancelOutcome> {
    return this.rpc.send(JobCommand.Cancel, { job_id: jobId, scope: scopeOf(principal), requested_by: principal.key_id, reason: null }, cancelJobReplySchema);
  }

  redrive(principal: Principal, jobId: string): Promise<RedriveOutcome> {
    return this.rpc.send(JobCommand.Redrive, { job_id: jobId, scope: scopeOf(principal), requested_by: principal.key_id }, redriveJobReplySchema);
  }

  delete(principal: Principal, jobId: string): Promise<DeleteOutcome> {
    return this.rpc.send(JobCommand.Delete, { job_id: jobId, scope: scopeOf(principal), requested_by: principal.key_id }, deleteJobReplySchema);
  }
}
