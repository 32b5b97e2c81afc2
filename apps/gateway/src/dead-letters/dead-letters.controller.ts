import { Controller, Get, Query, UseGuards } from '@nestjs/common';
import { z } from 'zod';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';
import { JobQueriesClient } from '../jobs/job-queries.client.js';
import { parseQuery } from '../http/route-params.js';
import { pageQueryShape } from '../jobs/jobs.controller.js';

export const deadLettersQuerySchema = z.strictObject(pageQueryShape);

/**
 * Jobs that failed because their deliveries ran out, most recent first (a projection of their JobFailed
 * events): the principal's tenant's, or every tenant's for an admin key.
 */
@Controller('v1/dead-letters')
@UseGuards(NatsAvailableGuard)
export class DeadLettersController {
  constructor(private readonly queries: JobQueriesClient) {}

  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: Record<string, unknown>) {
    return this.queries.deadLetters(principal, parseQuery(deadLettersQuerySchema, query));
  }
}
