import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';
import { JobQueriesClient } from '../jobs/job-queries.client.js';
import { parseQuery } from '../http/query.js';
import { pageQueryShape } from '../jobs/jobs.controller.js';

export const deadLettersQuerySchema = z.strictObject(pageQueryShape);

/** Jobs that failed because their deliveries ran out, most recent first (a projection of their JobFailed events). */
@Controller('v1/dead-letters')
@UseGuards(NatsAvailableGuard)
export class DeadLettersController {
  constructor(private readonly queries: JobQueriesClient) {}

  @Get()
  list(@Query() query: Record<string, unknown>) {
    return this.queries.deadLetters(parseQuery(deadLettersQuerySchema, query));
  }
}
