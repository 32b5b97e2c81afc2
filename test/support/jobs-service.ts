import type { INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import { jobsEnvSchema, parseConfig, type JobsConfig } from '@app/config';
import type { JobSubjects } from '@app/contracts';
import { NamespacedNatsServer } from '@app/rpc';
import { createLogger, type PinoLogger } from '@app/observability';
import { JobsModule } from '../../apps/jobs/src/jobs.module.js';
import { IN_PROCESS_OPS, TEST_NATS_URL, type TestNamespace, type TestSchema } from './services.js';

/** The jobs service's config for a test: its namespace and schema, the test servers, any ops port; `env` adds or overrides. */
export function jobsTestConfig(ns: TestNamespace, db: TestSchema, env: Record<string, string> = {}): JobsConfig {
  return parseConfig(jobsEnvSchema, {
    ...IN_PROCESS_OPS,
    NATS_URL: TEST_NATS_URL,
    DATABASE_URL: db.url,
    DATABASE_SCHEMA: db.schema,
    FRAMEWIRE_NAMESPACE: ns.namespace,
    ...env,
  });
}

/**
 * The jobs service in this process (logs silent unless a logger is given): it projects the
 * namespace's stream and answers its queries and commands over NATS request/reply, as the real one
 * does, once this resolves.
 */
export async function startJobsService(
  config: JobsConfig,
  subjects: JobSubjects,
  options: { projectionVersion?: number; logger?: PinoLogger } = {},
): Promise<INestMicroservice> {
  const logger = options.logger ?? createLogger('jobs', 'silent');
  const moduleRef = await Test.createTestingModule({
    imports: [JobsModule.forRoot(config, logger, options.projectionVersion === undefined ? {} : { projectionVersion: options.projectionVersion })],
  }).compile();
  const app = moduleRef.createNestMicroservice({
    strategy: new NamespacedNatsServer(subjects.rpcPrefix, { servers: [TEST_NATS_URL], queue: 'framewire-jobs' }),
    logger: false,
  });
  await app.listen();
  return app;
}
