import { z } from 'zod';
import { jobPrioritySchema } from '../events/job-events.js';
import { artifactViewSchema } from '../queries/job-view.js';

/**
 * The bodies of the gateway's job routes that no request/reply carries as such (the others are the
 * jobs service's replies: JobView, JobsPage, JobEventsPage, DeadLettersPage, the command outcomes).
 */

/** `202` of POST /v1/jobs: the job is queued (or was, for a repeated Idempotency-Key). */
export const jobSubmittedSchema = z.object({
  job_id: z.uuid(),
  status: z.literal('queued'),
  pipeline: z.string(),
  priority: jobPrioritySchema,
  submitted_at: z.string(),
});
export type JobSubmitted = z.infer<typeof jobSubmittedSchema>;

/** GET /v1/jobs/{id}/artifacts: the files the pipeline wrote (empty until the job has completed). */
export const jobArtifactsSchema = z.object({ job_id: z.uuid(), status: z.string(), artifacts: z.array(artifactViewSchema) });
export type JobArtifacts = z.infer<typeof jobArtifactsSchema>;

/** POST /v1/jobs/{id}/media-links: signed, short-lived URLs of a job's media, for what cannot send the key. */
export const jobMediaLinksSchema = z.object({
  job_id: z.uuid(),
  token: z.string().meta({ description: 'Append as `?token=` to the job\'s video, artifact or stream URL' }),
  expires_at: z.string(),
  video_url: z.string(),
  artifacts: z.array(artifactViewSchema.extend({ url: z.string() })),
  hls_url: z.string().optional().meta({
    description: 'Only when the job has an HLS output (artifact `master.m3u8`): its master playlist, with the token in the path, so the playlists and files it names relatively open too',
  }),
  storyboard_url: z.string().optional().meta({
    description: 'Only when the job has a storyboard (artifact `storyboard.vtt`): the WebVTT, with the token in the path, so the sprites its cues name relatively open too',
  }),
});
export type JobMediaLinks = z.infer<typeof jobMediaLinksSchema>;
