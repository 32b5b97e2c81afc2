import type { INestMicroservice } from '@nestjs/common';
import { Test } from '@nestjs/testing';
import type { JobsConfig } from '@app/config';
import type { JobSubjects } from '@app/contracts';
import { NamespacedNatsServer } from '@app/event-store';
import { createLogger } from '@app/observability';
import { JobsModule } from '../../apps/jobs/src/jobs.module.js';
import { TEST_NATS_URL } from './services.js';

/**
 * The jobs service in this process, with silent logs: it projects the namespace's stream and answers
 * its queries and commands over NATS request/reply, as the real one does, once this resolves.
 */
export async function startJobsService(config: JobsConfig, subjects: JobSubjects): Promise<INestMicroservice> {
  const moduleRef = await Test.createTestingModule({ imports: [JobsModule.forRoot(config, createLogger('jobs', 'silent'))] }).compile();
  const app = moduleRef.createNestMicroservice({
    strategy: new NamespacedNatsServer(subjects.rpcPrefix, { servers: [TEST_NATS_URL], queue: 'framewire-jobs' }),
    logger: false,
  });
  await app.listen();
  return app;
}
