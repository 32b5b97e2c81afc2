import { Controller, Get, UseGuards } from '@nestjs/common';
import type { WorkersResponse } from '@app/contracts';
import { AdminOnly } from '../auth/route-access.decorator.js';
import { WorkersService } from './workers.service.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';

/**
 * `GET /v1/workers`: the live workers with their hosts, pids and the ids of the jobs they run, of every
 * tenant. Admin keys only; any key may ask whether workers are alive at GET /v1/worker/health.
 */
@Controller('v1/workers')
@AdminOnly()
@UseGuards(NatsAvailableGuard)
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  @Get()
  async list(): Promise<WorkersResponse> {
    return { workers: await this.workers.list() };
  }
}
