import { Injectable } from '@nestjs/common';
import type { WorkerInfo } from '@app/contracts';
import { WorkerRegistry } from '@app/worker-registry';

/** The live workers, from their heartbeats in the registry (entries expire when a worker stops beating). */
@Injectable()
export class WorkersService {
  constructor(private readonly registry: WorkerRegistry) {}

  list(): Promise<WorkerInfo[]> {
    return this.registry.list();
  }

  /** The seeds' health: alive when at least one worker's heartbeat is within its TTL. */
  async health(): Promise<{ alive: boolean; last_heartbeat: string | null; workers: number }> {
    const workers = await this.registry.list();
    return { alive: workers.length > 0, last_heartbeat: workers[0]?.last_heartbeat ?? null, workers: workers.length };
  }
}
