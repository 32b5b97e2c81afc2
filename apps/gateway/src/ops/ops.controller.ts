import { Controller, Get, Header, Inject, Res } from '@nestjs/common';
import type { Response } from 'express';
import { HEALTH_CHECKS, runHealthChecks, type HealthCheck } from '@app/observability';
import { GatewayMetrics } from './gateway.metrics.js';

/** Prometheus metrics and the probes, on the gateway's own port. */
@Controller()
export class OpsController {
  constructor(
    private readonly metrics: GatewayMetrics,
    @Inject(HEALTH_CHECKS) private readonly checks: HealthCheck[],
  ) {}

  @Get('metrics')
  @Header('Cache-Control', 'no-store')
  async prometheus(@Res() res: Response): Promise<void> {
    const text = await this.metrics.registry.metrics();
    res.type(this.metrics.registry.contentType).send(text);
  }

  /** The process answers: restart it if this fails. */
  @Get('health/live')
  @Header('Cache-Control', 'no-store')
  live() {
    return { status: 'ok' };
  }

  /** The gateway can serve: NATS answers. 503 with the failing check otherwise. */
  @Get('health/ready')
  @Header('Cache-Control', 'no-store')
  async ready(@Res() res: Response): Promise<void> {
    const report = await runHealthChecks(this.checks);
    res.status(report.status === 'ok' ? 200 : 503).json(report);
  }
}
