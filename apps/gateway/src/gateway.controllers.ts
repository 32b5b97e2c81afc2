import type { Type } from '@nestjs/common';
import { DashboardController } from './dashboard/dashboard.controller.js';
import { DashboardSettingsController } from './dashboard/dashboard-settings.controller.js';
import { DeadLettersController } from './dead-letters/dead-letters.controller.js';
import { DocsController } from './docs/docs.controller.js';
import { JobFilesController } from './files/job-files.controller.js';
import { JobsController } from './jobs/jobs.controller.js';
import { UploadsController } from './resumable/uploads.controller.js';
import { JobStreamController } from './live/job-stream.controller.js';
import { LiveController } from './live/live.controller.js';
import { OpsController } from './ops/ops.controller.js';
import { PipelinesController } from './pipelines/pipelines.controller.js';
import { VideoCompatController } from './seeds/video-compat.controller.js';
import { SystemController } from './system/system.controller.js';
import { WebhooksController } from './webhooks/webhooks.controller.js';
import { WorkersController } from './workers/workers.controller.js';

/** Every HTTP controller of the gateway, in the order their routes are matched. */
export const GATEWAY_CONTROLLERS: Type[] = [
  JobsController,
  UploadsController,
  JobFilesController,
  JobStreamController,
  DeadLettersController,
  WebhooksController,
  PipelinesController,
  WorkersController,
  VideoCompatController,
  LiveController,
  SystemController,
  OpsController,
  DocsController,
  DashboardSettingsController,
  // Last: it answers the dashboard's own client-side routes.
  DashboardController,
];
