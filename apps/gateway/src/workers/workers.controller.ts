import { Controller, Get } from '@nestjs/common';
import { WorkersService } from './workers.service.js';

@Controller('v1/workers')
export class WorkersController {
  constructor(private readonly workers: WorkersService) {}

  @Get()
  async list() {
    return { workers: await this.workers.list() };
  }
}
