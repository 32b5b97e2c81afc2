import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req, UseFilters, UseGuards } from '@nestjs/common';
import type { Request } from 'express';
import type { GatewayConfig } from '@app/config';
import { CurrentPrincipal, type Principal } from '../auth/principal.js';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { parseJobId } from '../http/route-params.js';
import { readMultipart } from '../uploads/multipart-reader.js';
import type { SubmissionSource } from '../jobs/submit-job.service.js';
import { SeedsExceptionFilter } from './seeds-exception.filter.js';
import { VideoCompatService, type SeedsQuery } from './video-compat.service.js';
import { NatsAvailableGuard } from '../http/nats-available.guard.js';

const NO_FIELDS = new Set<string>();

/**
 * The seeds' routes, for their clients to work unchanged. Errors carry `detail` as well as `error`.
 * Like every route they need an API key: jobs are submitted as the key's tenant, and another
 * tenant's job is 404 here too.
 */
@Controller('v1')
@UseGuards(NatsAvailableGuard)
@UseFilters(SeedsExceptionFilter)
export class VideoCompatController {
  constructor(
    private readonly compat: VideoCompatService,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Post('video/submit')
  @HttpCode(200)
  submit(@CurrentPrincipal() principal: Principal, @Req() req: Request, @Query() query: SeedsQuery) {
    return this.compat.submit(principal, this.upload(req), query, String(req.id));
  }

  @Post('video/process')
  @HttpCode(200)
  process(@CurrentPrincipal() principal: Principal, @Req() req: Request, @Query() query: SeedsQuery) {
    return this.compat.process(principal, this.upload(req), query, String(req.id));
  }

  @Get('video/status/:id')
  status(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.compat.status(principal, parseJobId(id));
  }

  @Get('video/results/:id')
  results(@CurrentPrincipal() principal: Principal, @Param('id') id: string) {
    return this.compat.results(principal, parseJobId(id));
  }

  @Get('worker/health')
  health() {
    return this.compat.workerHealth();
  }

  private upload(req: Request): SubmissionSource {
    return (sink, discard) => readMultipart(req, 'file', NO_FIELDS, { fileBytes: this.config.MAX_UPLOAD_BYTES, fieldBytes: 1024 }, sink, discard);
  }
}
