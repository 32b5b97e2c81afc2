import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import type { Registry } from 'prom-client';
import { HEALTH_CHECKS, type HealthCheck } from './health.js';
import { METRICS_REGISTRY } from './metrics.js';
import { OpsServer } from './ops-server.js';

export interface OpsListenOptions {
  host: string;
  port: number;
}

export const OPS_LISTEN = Symbol('OPS_LISTEN');

/**
 * Runs a service's ops HTTP listener (metrics and health) for as long as the application lives.
 * The app provides METRICS_REGISTRY, HEALTH_CHECKS and OPS_LISTEN.
 */
@Injectable()
export class OpsListener implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger('Ops');
  private readonly server: OpsServer;

  constructor(
    @Inject(OPS_LISTEN) private readonly listen: OpsListenOptions,
    @Inject(METRICS_REGISTRY) registry: Registry,
    @Inject(HEALTH_CHECKS) checks: HealthCheck[],
  ) {
    this.server = new OpsServer({ host: listen.host, port: listen.port, registry, checks });
  }

  /** The port the listener is bound to (after bootstrap). */
  get port(): number {
    return this.server.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    const port = await this.server.start();
    const shown = this.listen.host === '0.0.0.0' || this.listen.host === '::' ? '127.0.0.1' : this.listen.host;
    this.logger.log({ opsPort: port }, `ops listening on http://${shown}:${port} (/metrics, /health/live, /health/ready)`);
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server.stop();
  }
}
