import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Parked events: events of the stream whose row PostgreSQL refused (a data error) or whose fold
 * threw, recorded in the same transaction that moves the checkpoint past them, so that one event can
 * never stop the projection. The home schema shows the active model's table as a view, like `jobs`.
 * A rebuild (replay, a projection upgrade) tries every event again, into a model of its own.
 */
export class ParkedEvents1764540000000 implements MigrationInterface {
  name = 'ParkedEvents1764540000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`
      CREATE TABLE parked_events (
        seq           bigint PRIMARY KEY,
        job_id        uuid NOT NULL,
        event_id      uuid NOT NULL,
        event_type    text NOT NULL,
        event_version integer NOT NULL,
        error_code    text NOT NULL,
        error_message text NOT NULL,
        parked_at     timestamptz NOT NULL
      )`);
    await q.query(`CREATE INDEX parked_events_job_idx ON parked_events (job_id)`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`DROP TABLE parked_events`);
  }
}
