import { Injectable } from '@nestjs/common';
import {
  deadLettersReplySchema,
  ErrorCode,
  getJobAsOfReplySchema,
  getJobReplySchema,
  jobEventsReplySchema,
  jobFilesReplySchema,
  JobQuery,
  listJobsReplySchema,
  type DeadLettersRequest,
  type GetJobAsOfRequest,
  projectionReplySchema,
  scopeOf,
  type JobEventsRequest,
  type JobFiles,
  type JobView,
  type ListJobsRequest,
  type Principal,
} from '@app/contracts';
import { ApiError } from '../http/api-error.js';
import { JobsRpcClient } from '../rpc/jobs-rpc.client.js';

/**
 * Job reads for a principal. Each call sends the principal's scope (its tenant, or every tenant for
 * an admin key), and the jobs service answers a job outside that scope as if it did not exist. This
 * is the one way a gateway route reads jobs, so tenant isolation cannot be forgotten by a route.
 */
@Injectable()
export class JobQueriesClient {
  constructor(private readonly rpc: JobsRpcClient) {}

  async get(principal: Principal, jobId: string): Promise<JobView | null> {
    return (await this.rpc.send(JobQuery.Get, { job_id: jobId, scope: scopeOf(principal) }, getJobReplySchema)).job;
  }

  /**
   * The job, if this principal may see it; otherwise 404 JOB_NOT_FOUND, the same answer as for a job
   * that does not exist. Routes that serve anything of a job (results, artifacts, the video, a live
   * stream, cancel) call this first.
   */
  async requireVisible(principal: Principal, jobId: string): Promise<JobView> {
    const job = await this.get(principal, jobId);
    if (!job) throw new ApiError(ErrorCode.JobNotFound, `no job ${jobId}`);
    return job;
  }

  /** The job as it was at a point of its history (`as_of`), if this principal may see it. */
  getAsOf(principal: Principal, request: Omit<GetJobAsOfRequest, 'scope'>) {
    return this.rpc.send(JobQuery.GetAsOf, { ...request, scope: scopeOf(principal) }, getJobAsOfReplySchema);
  }

  /** Where the job's files are, or null when the job does not exist or is outside the principal's scope. */
  async files(principal: Principal, jobId: string): Promise<JobFiles | null> {
    return (await this.rpc.send(JobQuery.Files, { job_id: jobId, scope: scopeOf(principal) }, jobFilesReplySchema)).files;
  }

  list(principal: Principal, request: Omit<ListJobsRequest, 'scope'>) {
    return this.rpc.send(JobQuery.List, { ...request, scope: scopeOf(principal) }, listJobsReplySchema);
  }

  events(principal: Principal, request: Omit<JobEventsRequest, 'scope'>) {
    return this.rpc.send(JobQuery.Events, { ...request, scope: scopeOf(principal) }, jobEventsReplySchema);
  }

  /** Dead letters in the principal's scope. */
  deadLetters(principal: Principal, request: Omit<DeadLettersRequest, 'scope'>) {
    return this.rpc.send(JobQuery.DeadLetters, { ...request, scope: scopeOf(principal) }, deadLettersReplySchema);
  }

  /** The projector's checkpoint, as the read model holds it: no job data, for the admin-only /v1/system. */
  projection() {
    return this.rpc.send(JobQuery.Projection, {}, projectionReplySchema);
  }
}
