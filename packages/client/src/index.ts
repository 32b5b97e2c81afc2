/**
 * @framewire/client: a typed client for Framewire's HTTP API. Its types are generated from the
 * gateway's OpenAPI document (openapi-typescript), its calls made with openapi-fetch, so a route the
 * server changes breaks the build of whatever uses it here. See README.md.
 */
export {
  call,
  createFramewireClient,
  type CancelOutcome,
  type CreateWebhook,
  type DeleteOutcome,
  type FramewireClient,
  type FramewireClientOptions,
  type Job,
  type JobsPage,
  type JobSubmitted,
  type ListJobsQuery,
  type PipelineResult,
  type RedriveOutcome,
  type SubmitOptions,
  type UpdateWebhook,
  type WaitOptions,
  type WebhookEndpoint,
  type WebhookEndpointWithSecret,
} from './framewire-client.js';
export { FramewireError, errorFromBody, type FramewireErrorCode } from './errors.js';
export { isEnding, type JobProgress, type JobStatusUpdate, type JobUpdate } from './job-updates.js';
export { multipartBody, type FilePart, type MultipartBody } from './multipart.js';
export type { components, operations, paths } from './generated/openapi.js';
