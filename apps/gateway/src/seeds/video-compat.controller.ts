import { Controller, Get, HttpCode, Inject, Param, Post, Query, Req, UseFilters } from '@nestjs/common';
import type { Request } from 'express';
import type { GatewayConfig } from '@app/config';
import { GATEWAY_CONFIG } from '../gateway.config.js';
import { parseJobId } from '../http/query.js';
import { readMultipart } from '../uploads/multipart-reader.js';
import type { SubmissionSource } from '../jobs/submit-job.service.js';
import { SeedsExceptionFilter } from './seeds-exception.filter.js';
import { VideoCompatService, type SeedsQuery } from './video-compat.service.js';

const NO_FIELDS = new Set<string>();

/** The seeds' routes, for their clients to work unchanged. Errors carry `detail` as well as `error`. */
@Controller('v1')
@UseFilters(SeedsExceptionFilter)
export class VideoCompatController {
  constructor(
    private readonly compat: VideoCompatService,
    @Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig,
  ) {}

  @Post('video/submit')
  @HttpCode(200)
  submit(@Req() req: Request, @Query() query: SeedsQuery) {
    return this.compat.submit(this.upload(req), query, String(req.id));
  }

  @Post('video/process')
  @HttpCode(200)
  process(@Req() req: Request, @Query() query: SeedsQuery) {
    return this.compat.process(this.upload(req), query, String(req.id));
  }

  @Get('video/status/:id')
  status(@Param('id') id: string) {
    return this.compat.status(parseJobId(id));
  }

  @Get('video/results/:id')
  results(@Param('id') id: string) {
    return this.compat.results(parseJobId(id));
  }

  @Get('worker/health')
  health() {
    return this.compat.workerHealth();
  }

  private upload(req: Request): SubmissionSource {
    return (sink, discard) => readMultipart(req, 'file', NO_FIELDS, { fileBytes: this.config.MAX_UPLOAD_BYTES, fieldBytes: 1024 }, sink, discard);
  }
}
