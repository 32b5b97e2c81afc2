import { Injectable } from '@nestjs/common';

/** The jobs this worker process is running right now, for its heartbeat. Counted: several parts of one split job may run here at once. */
@Injectable()
export class InFlightJobs {
  private readonly jobs = new Map<string, number>();

  add(jobId: string): void {
    this.jobs.set(jobId, (this.jobs.get(jobId) ?? 0) + 1);
  }

  delete(jobId: string): void {
    const left = (this.jobs.get(jobId) ?? 0) - 1;
    if (left > 0) this.jobs.set(jobId, left);
    else this.jobs.delete(jobId);
  }

  list(): string[] {
    return [...this.jobs.keys()];
  }
}
