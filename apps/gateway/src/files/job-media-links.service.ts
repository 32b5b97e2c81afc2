import { Injectable } from '@nestjs/common';
import type { JobMediaLinks, Principal } from '@app/contracts';
import { MASTER_PLAYLIST, STORYBOARD_NAME } from '@app/tools';
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
    // The token in the path (MediaLinkInPath): a player resolves the names inside a playlist or a
    // WebVTT against this URL, which keeps the path and drops a query string.
    const inPath = (name: string) => (job.artifacts.some((a) => a.name === name) ? `${base}/media/${encodeURIComponent(token)}/${name}` : undefined);
    // The `hls` tool's master playlist; the `thumbnails` tool's storyboard (cues name `sprite-001.jpg#xywh=…`).
    const hls = inPath(MASTER_PLAYLIST);
    const storyboard = inPath(STORYBOARD_NAME);
    return {
      job_id: job.job_id,
      token,
      expires_at: expiresAt.toISOString(),
      video_url: `${base}/video${query}`,
      artifacts: job.artifacts.map((a) => ({ ...a, url: `${base}/artifacts/${encodeURIComponent(a.name)}${query}` })),
      ...(hls ? { hls_url: hls } : {}),
      ...(storyboard ? { storyboard_url: storyboard } : {}),
    };
  }
}
