import { Controller, Get, Header, UseGuards } from '@nestjs/common';
import { ErrorCode, type SystemView } from '@app/contracts';
import { EventStore } from '@app/event-store';
import { ApiError } from '../http/api-error.js';
import { JobQueriesClient } from '../jobs/job-queries.client.js';
import { AdminOnly } from '../auth/route-access.decorator.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';

/**
 * `GET /v1/system`: the event stream, its durable consumers (backlog, in progress, redeliveries)
 * and the projector's lag and parked events, read from JetStream and the jobs service now. The
 * stream figures need NATS (503 without it); when only the jobs service is silent, the projector's
 * part says why.
 * Admin keys only: the figures count every tenant's jobs.
 */
@Controller('v1/system')
@AdminOnly()
@UseGuards(NatsAvailableGuard)
export class SystemController {
  constructor(
    private readonly store: EventStore,
    private readonly queries: JobQueriesClient,
  ) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  async get(): Promise<SystemView> {
    const [figures, projection] = await Promise.all([
      this.store.figures().catch((error: unknown) => {
          throw new ApiError(ErrorCode.ServiceUnavailable, `cannot read the stream: ${error instanceof Error ? error.message : String(error)}`, { 'Retry-After': '1' });
        }),
      this.queries.projection().then(
        (value) => ({ checkpoint: value.checkpoint, parked: value.parked ?? null, error: null }),
        (error: unknown) => ({ checkpoint: null, parked: null, error: error instanceof Error ? error.message : String(error) }),
      ),
    ]);
    const lag = projection.checkpoint === null ? null : Math.max(0, figures.stream.last_seq - projection.checkpoint);
    return {
      ...figures,
      projector: { checkpoint: projection.checkpoint, lag, error: projection.error, parked: projection.parked },
      observed_at: new Date().toISOString(),
    };
  }
}
