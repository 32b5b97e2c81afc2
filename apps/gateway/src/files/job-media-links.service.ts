import { Injectable } from '@nestjs/common';
import type { JobMediaLinks, Principal } from '@app/contracts';
import { MEDIA_LINK_PARAM, MediaLinks } from '../auth/media-links.js';
import { JobQueriesClient } from '../jobs/job-queries.client.js';


/** Issues a job's media links to a principal that may see the job (404 otherwise, as for no job). */
@Injectable()
export class JobMediaLinksService {
  constructor(
    private readonly queries: JobQueriesClient,
    private readonly links: MediaLinks,
  ) {}

  async issue(principal: Principal, jobId: string): Promise<JobMediaLinks> {
    const job = await this.queries.requireVisible(principal, jobId);
    const { token, expiresAt } = this.links.issue(principal, job.job_id);
    const base = `/v1/jobs/${job.job_id}`;
    const query = `?${MEDIA_LINK_PARAM}=${encodeURIComponent(token)}`;
    return {
      job_id: job.job_id,
      token,
      expires_at: expiresAt.toISOString(),
      video_url: `${base}/video${query}`,
      artifacts: job.artifacts.map((a) => ({ ...a, url: `${base}/artifacts/${encodeURIComponent(a.name)}${query}` })),
    };
  }
}
