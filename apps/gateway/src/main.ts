import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import type { NestExpressApplication } from '@nestjs/platform-express';
import { Logger } from 'nestjs-pino';
import { gatewayEnvSchema, loadConfig } from '@app/config';
import { inboxPrefixOf, preflightNatsServer } from '@app/nats';
import { createLogger, startTracing } from '@app/observability';
import { closeOnSignals } from '@app/runtime';
import { GatewayModule } from './gateway.module.js';
import { configureHttp } from './http/http-setup.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig(gatewayEnvSchema);
  const tracing = startTracing('gateway');
  // A NATS too old or without JetStream stops the start here, in one line (see the catch below).
  await preflightNatsServer(config.NATS_URL, 'framewire-gateway-preflight', { user: config.NATS_USER, pass: config.NATS_PASSWORD, inboxPrefix: inboxPrefixOf('gateway') });
  const logger = createLogger('gateway', config.LOG_LEVEL, config.LOG_FORMAT);
  const app = await NestFactory.create<NestExpressApplication>(GatewayModule.forRoot(config, logger), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  configureHttp(app, config);
  await app.listen(config.PORT, config.HOST);
  closeOnSignals(app, logger, 20_000, () => tracing.shutdown());
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.PORT;
  logger.info({ port, namespace: config.FRAMEWIRE_NAMESPACE, auth: config.AUTH_MODE }, `gateway listening on http://127.0.0.1:${port}`);
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`framewire gateway: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
