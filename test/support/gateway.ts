import type { NestExpressApplication } from '@nestjs/platform-express';
import { Test } from '@nestjs/testing';
import { gatewayEnvSchema, parseConfig } from '@app/config';
import { createLogger } from '@app/observability';
import { GatewayModule } from '../../apps/gateway/src/gateway.module.js';
import { configureHttp } from '../../apps/gateway/src/http/http-setup.js';

export interface TestGateway {
  app: NestExpressApplication;
  port: number;
  /** `http://127.0.0.1:<port>` */
  base: string;
}

/** The gateway in this process on a free loopback port (logs silent), configured from `env` like the real one. */
export async function startGateway(env: Record<string, string>): Promise<TestGateway> {
  const config = parseConfig(gatewayEnvSchema, { PORT: '0', HOST: '127.0.0.1', ...env });
  const moduleRef = await Test.createTestingModule({ imports: [GatewayModule.forRoot(config, createLogger('gateway', 'silent'))] }).compile();
  const app = moduleRef.createNestApplication<NestExpressApplication>({ logger: false });
  configureHttp(app, config);
  await app.listen(0, '127.0.0.1');
  const port = (app.getHttpServer().address() as { port: number }).port;
  return { app, port, base: `http://127.0.0.1:${port}` };
}
