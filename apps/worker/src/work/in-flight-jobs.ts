import { Injectable } from '@nestjs/common';

/** The jobs this worker process is running right now, for its heartbeat. */
@Injectable()
export class InFlightJobs {
  private readonly jobs = new Set<string>();

  add(jobId: string): void {
    this.jobs.add(jobId);
  }

  delete(jobId: string): void {
    this.jobs.delete(jobId);
  }

  list(): string[] {
    return [...this.jobs];
  }
}
