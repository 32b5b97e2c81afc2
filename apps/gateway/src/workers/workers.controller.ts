import { Controller, Get, UseGuards } from '@nestjs/common';
import { WorkersService } from './workers.service.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';

@Controller('v1/workers')
@UseGuards(NatsAvailableGuard)
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  @Get()
  async list() {
    return { workers: await this.workers.list() };
  }
}
