import type { DataSource } from 'typeorm';
import type { HealthCheck } from '@app/observability';

/** Readiness of the read model's PostgreSQL: the pool hands out a connection that answers. */
export function postgresHealthCheck(ds: DataSource): HealthCheck {
  return {
    name: 'postgres',
    async check() {
      if (!ds.isInitialized) throw new Error('the read model is not connected');
      await ds.query('SELECT 1');
    },
  };
}
