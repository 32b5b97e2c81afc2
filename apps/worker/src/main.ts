import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { loadConfig, workerEnvSchema } from '@app/config';
import { inboxPrefixOf, preflightNatsServer } from '@app/nats';
import { createLogger, startTracing } from '@app/observability';
import { closeOnSignals } from '@app/runtime';
import { WorkerModule } from './worker.module.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig(workerEnvSchema);
  const tracing = startTracing('worker', { 'service.instance.id': config.WORKER_ID });
  // A NATS too old or without JetStream stops the start here, in one line (see the catch below).
  await preflightNatsServer(config.NATS_URL, 'framewire-worker-preflight', { user: config.NATS_USER, pass: config.NATS_PASSWORD, inboxPrefix: inboxPrefixOf('worker') });
  const logger = createLogger('worker', config.LOG_LEVEL, config.LOG_FORMAT);
  const app = await NestFactory.createApplicationContext(WorkerModule.forRoot(config, logger), { bufferLogs: true });
  app.useLogger(app.get(Logger));
  await app.init();
  closeOnSignals(app, logger, config.WORKER_SHUTDOWN_GRACE_MS + 15_000, () => tracing.shutdown());
  logger.info({ workerId: config.WORKER_ID, namespace: config.FRAMEWIRE_NAMESPACE }, 'worker ready');
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`framewire worker: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
