import type { MigrationInterface, QueryRunner } from 'typeorm';

/**
 * Which stream a model was projected from, beside its checkpoint: the stream's name and the creation
 * time JetStream gives it (kept as JetStream writes it, to the nanosecond). A stream that was deleted
 * and made again, or that a NATS server lost, has another creation time, and its sequences start
 * again at 1: the checkpoint means nothing there. Null until the projector has looked at the stream
 * (a model made before this column, or one nothing was projected into yet).
 */
export class StreamIdentity1764560000000 implements MigrationInterface {
  name = 'StreamIdentity1764560000000';

  async up(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE projection_checkpoints ADD COLUMN stream_name text, ADD COLUMN stream_created text`);
  }

  async down(q: QueryRunner): Promise<void> {
    await q.query(`ALTER TABLE projection_checkpoints DROP COLUMN stream_name, DROP COLUMN stream_created`);
  }
}
