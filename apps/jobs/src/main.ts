import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { Logger } from 'nestjs-pino';
import { jobSubjects } from '@app/contracts';
import { jobsEnvSchema, loadConfig } from '@app/config';
import { inboxPrefixOf, natsClientOptions, preflightNatsServer } from '@app/nats';
import { NamespacedNatsServer } from '@app/rpc';
import { createLogger, startTracing } from '@app/observability';
import { closeOnSignals } from '@app/runtime';
import { JobsModule } from './jobs.module.js';

async function bootstrap(): Promise<void> {
  const config = loadConfig(jobsEnvSchema);
  const tracing = startTracing('jobs');
  // A NATS too old or without JetStream stops the start here, in one line (see the catch below).
  await preflightNatsServer(config.NATS_URL, 'framewire-jobs-preflight', { user: config.NATS_USER, pass: config.NATS_PASSWORD, inboxPrefix: inboxPrefixOf('jobs') });
  const logger = createLogger('jobs', config.LOG_LEVEL, config.LOG_FORMAT);
  const subjects = jobSubjects(config.FRAMEWIRE_NAMESPACE);
  const app = await NestFactory.createMicroservice(JobsModule.forRoot(config, logger), {
    strategy: new NamespacedNatsServer(subjects.rpcPrefix, {
      ...natsClientOptions(config.NATS_URL, { user: config.NATS_USER, pass: config.NATS_PASSWORD, inboxPrefix: inboxPrefixOf('jobs') }),
      name: 'framewire-jobs-rpc',
      queue: 'framewire-jobs',
      maxReconnectAttempts: -1,
      reconnectTimeWait: 250,
    }),
    bufferLogs: true,
  });
  app.useLogger(app.get(Logger));
  await app.listen();
  closeOnSignals(app, logger, 20_000, () => tracing.shutdown());
  logger.info({ namespace: config.FRAMEWIRE_NAMESPACE, schema: config.DATABASE_SCHEMA }, 'jobs service ready');
}

bootstrap().catch((error: unknown) => {
  process.stderr.write(`framewire jobs: failed to start: ${error instanceof Error ? error.message : String(error)}\n`);
  process.exit(1);
});
