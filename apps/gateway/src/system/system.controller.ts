import { Controller, Get, Header } from '@nestjs/common';
import { ErrorCode, type SystemView } from '@app/contracts';
import { EventStore, readJetStreamFigures } from '@app/event-store';
import { ApiError } from '../http/api-error.js';
import { JobQueriesClient } from '../jobs/job-queries.client.js';

/**
 * `GET /v1/system`: the event stream, its durable consumers (backlog, in progress, redeliveries)
 * and the projector's lag, read from JetStream and the jobs service now. The stream figures need
 * NATS (503 without it); when only the jobs service is silent, the projector's part says why.
 */
@Controller('v1/system')
export class SystemController {
  constructor(
    private readonly store: EventStore,
    private readonly queries: JobQueriesClient,
  ) {}

  @Get()
  @Header('Cache-Control', 'no-store')
  async get(): Promise<SystemView> {
    const [figures, projection] = await Promise.all([
      this.store
        .jsm()
        .then((jsm) => readJetStreamFigures(jsm, this.store.streamName))
        .catch((error: unknown) => {
          throw new ApiError(ErrorCode.ServiceUnavailable, `cannot read the stream: ${error instanceof Error ? error.message : String(error)}`, { 'Retry-After': '1' });
        }),
      this.queries.projection().then(
        (value) => ({ checkpoint: value.checkpoint, error: null }),
        (error: unknown) => ({ checkpoint: null, error: error instanceof Error ? error.message : String(error) }),
      ),
    ]);
    const lag = projection.checkpoint === null ? null : Math.max(0, figures.stream.last_seq - projection.checkpoint);
    return {
      ...figures,
      projector: { checkpoint: projection.checkpoint, lag, error: projection.error },
      observed_at: new Date().toISOString(),
    };
  }
}
