import { Controller, Get, Inject } from '@nestjs/common';
import type { DashboardSettings } from '@app/contracts';
import type { GatewayConfig } from '@app/config';
import { GATEWAY_CONFIG } from '../gateway.config.js';

/**
 * `GET /v1/dashboard/settings`: the part of the gateway's configuration the dashboard shows (the
 * link to a job's trace). Behind a key like the API: a trace UI's address is the operators' own.
 */
@Controller('v1/dashboard')
export class DashboardSettingsController {
  constructor(@Inject(GATEWAY_CONFIG) private readonly config: GatewayConfig) {}

  @Get('settings')
  settings(): DashboardSettings {
    return { trace_link: this.config.TRACE_UI_URL ?? null };
  }
}
