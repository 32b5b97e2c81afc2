import type { DataSource, EntityManager } from 'typeorm';
import { assertIdentifier, isModelSchemaOf, migrateModelSchema, modelSchemaName, qualified } from './model-schema.js';
import { PROJECTION_NAME, readCheckpoint, type ProjectionTarget } from './projection.writer.js';
import { readModelStream, sameStream } from './stream-identity.js';

/**
 * The version of the projection logic: `evolve` and the mapping of a state to a row. Bump it when
 * either changes in a way that changes rows; every jobs service then rebuilds the read model under
 * the new version in the background and switches to it once it has caught up (docs/adr/0001).
 */
export const PROJECTION_VERSION = 4;

/** The version the read model had before versions existed (tables directly in the home schema). */
const LEGACY_VERSION = 1;

/** Tables of a model schema that the home schema shows as views of the active model. */
const VIEWED_TABLES = ['jobs', 'projection_checkpoints', 'parked_events'] as const;

export interface ActiveProjection {
  schema: string;
  version: number;
  switchedAt: Date;
  /** The model that was active before the last switch, kept until the next one. */
  previousSchema: string | null;
}

export interface SwitchResult {
  from: ActiveProjection;
  to: ActiveProjection;
  /** What the new model reflects at least at the switch: the live checkpoint, or the `throughSeq` asked for. */
  checkpoint: number;
}

export interface SwitchOptions {
  /** Refuse unless the active model has the same version (a `replay --swap`). */
  sameVersion?: boolean;
  /**
   * The model replaces one projected from another stream (or from a stream that has lost messages):
   * the live checkpoint counts another stream's sequences, so the new model is brought to this
   * sequence of the stream instead. Without it, a switch between models that recorded different
   * streams is refused.
   */
  throughSeq?: number;
}

/** The active model was built by newer projection logic than this process has: it must not write it. */
export class ProjectionSupersededError extends Error {
  constructor(
    readonly activeVersion: number,
    readonly ownVersion: number,
  ) {
    super(`the read model is projection version ${activeVersion}; this process has version ${ownVersion} and leaves it alone`);
    this.name = 'ProjectionSupersededError';
  }
}

/** A switch that the registry refuses (a version that would go backwards, a model that is not ready). */
export class ProjectionSwitchError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProjectionSwitchError';
  }
}

/**
 * Brings `schema` from `fromSeq` through `throughSeq` inside the switch's transaction (the registry
 * is locked, so the live model cannot move meanwhile).
 */
export type CatchUp = (tx: EntityManager, schema: string, fromSeq: number, throughSeq: number) => Promise<void>;

/**
 * Which model schema is live. The home schema (DATABASE_SCHEMA) holds:
 * - `projection_registry`: one row per projection naming its active model schema and version;
 * - `projection_builds`: models being built (the jobs service's own rebuilds, purpose `upgrade`: to a
 *   newer version, or from a new stream; a `framewire replay`);
 * - the views `jobs`, `projection_checkpoints` and `parked_events` over the active model's tables,
 *   which is what every reader queries.
 *
 * A switch is one transaction: it locks the registry row (FOR UPDATE, which waits for in-flight
 * projector batches: each takes FOR KEY SHARE on it), catches the new model up to the live
 * checkpoint, re-points the views and updates the row. Readers see the old model or the new one,
 * never anything in between, and every jobs-service instance writes the new one from its next batch.
 */
export class ProjectionRegistry {
  constructor(
    private readonly ds: DataSource,
    readonly home: string,
    private readonly url: string,
  ) {
    assertIdentifier(home);
  }

  /**
   * Creates the home schema's tables and, when there is no active model yet, one: an empty model of
   * `version` on a fresh database (it fills in place, as there is nothing older to show), or the
   * tables of an older Framewire that lived in the home schema itself, moved into a model schema.
   * Migrates the active model (migrations only ever add) and refreshes the views. Safe to run from
   * every instance at every start.
   */
  async ensure(version: number): Promise<ActiveProjection> {
    await this.withAdvisoryLock(`framewire:registry:${this.home}`, async () => {
      await this.ds.query(`CREATE SCHEMA IF NOT EXISTS "${this.home}"`);
      await this.ds.query(`CREATE TABLE IF NOT EXISTS ${this.table('projection_registry')} (
        name            text PRIMARY KEY,
        active_schema   text NOT NULL,
        active_version  integer NOT NULL,
        switched_at     timestamptz NOT NULL,
        previous_schema text)`);
      await this.ds.query(`CREATE TABLE IF NOT EXISTS ${this.table('projection_builds')} (
        schema_name text PRIMARY KEY,
        version     integer NOT NULL,
        purpose     text NOT NULL,
        started_at  timestamptz NOT NULL)`);
      let active = await this.find();
      if (!active) {
        const legacy = await this.legacyTablesPresent();
        const schema = modelSchemaName(this.home, legacy ? LEGACY_VERSION : version);
        if (legacy) await this.adoptLegacy(schema);
        await migrateModelSchema(this.url, schema);
        await this.ds.transaction(async (tx) => {
          await this.pointViewsAt(tx, schema);
          await tx.query(
            `INSERT INTO ${this.table('projection_registry')} (name, active_schema, active_version, switched_at) VALUES ($1, $2, $3, now())`,
            [PROJECTION_NAME, schema, legacy ? LEGACY_VERSION : version],
          );
        });
        active = (await this.find())!;
      } else {
        await migrateModelSchema(this.url, active.schema);
        // A migration may have added columns, and a view's `*` is fixed when it is created.
        await this.ds.transaction(async (tx) => {
          const locked = await this.lockRow(tx, 'FOR UPDATE');
          await this.pointViewsAt(tx, locked.schema);
        });
      }
    });
    await this.collectGarbage();
    return (await this.find())!;
  }

  async active(q: Pick<DataSource, 'query'> | EntityManager = this.ds): Promise<ActiveProjection> {
    const found = await this.find(q);
    if (!found) throw new ProjectionSwitchError(`no active read model in schema ${this.home}: the jobs service creates it at start`);
    return found;
  }

  /** The live model as a writer's target: each batch locks the registry row and checks the version. */
  liveTarget(version: number): ProjectionTarget {
    return {
      lock: async (tx) => {
        const active = await this.lockRow(tx, 'FOR KEY SHARE');
        if (active.version > version) throw new ProjectionSupersededError(active.version, version);
        return active.schema;
      },
      current: async () => (await this.active()).schema,
    };
  }

  /** A new, empty, migrated model schema of `version`, recorded as a build of `purpose`. */
  async createBuild(version: number, purpose: 'upgrade' | 'replay', schema = modelSchemaName(this.home, version)): Promise<string> {
    assertIdentifier(schema);
    await this.ds.query(`INSERT INTO ${this.table('projection_builds')} (schema_name, version, purpose, started_at) VALUES ($1, $2, $3, now())`, [
      schema,
      version,
      purpose,
    ]);
    await migrateModelSchema(this.url, schema);
    return schema;
  }

  /** The newest unfinished rebuild (purpose `upgrade`) of `version` that a stopped instance left, to resume; or null. */
  async findUpgradeBuild(version: number): Promise<string | null> {
    const rows: { schema_name: string }[] = await this.ds.query(
      `SELECT schema_name FROM ${this.table('projection_builds')} WHERE purpose = 'upgrade' AND version = $1 ORDER BY started_at DESC LIMIT 1`,
      [version],
    );
    return rows[0]?.schema_name ?? null;
  }

  /** Drops a build that will not be switched to (a replay that only verified, a failed build). */
  async dropBuild(schema: string): Promise<void> {
    const active = await this.find();
    if (active && (active.schema === schema || active.previousSchema === schema)) return;
    await this.ds.query(`DROP SCHEMA IF EXISTS "${assertIdentifier(schema)}" CASCADE`);
    await this.ds.query(`DELETE FROM ${this.table('projection_builds')} WHERE schema_name = $1`, [schema]);
  }

  /**
   * Makes `schema` (a model of `version`) the active model, atomically for every reader and every
   * jobs-service instance. `catchUp` brings it up to the live checkpoint (or `throughSeq`) inside the
   * transaction. With `sameVersion`, the switch is refused unless the active model has the same
   * version (a `replay --swap`); otherwise it must not go backwards (a version upgrade).
   */
  async switchTo(schema: string, version: number, catchUp: CatchUp, options: SwitchOptions = {}): Promise<SwitchResult> {
    assertIdentifier(schema);
    const result = await this.ds.transaction(async (tx) => {
      const from = await this.lockRow(tx, 'FOR UPDATE');
      if (from.schema === schema) throw new ProjectionSwitchError(`${schema} is already the active model`);
      if (options.sameVersion && from.version !== version) {
        throw new ProjectionSwitchError(`the active model is projection version ${from.version}, the rebuilt one is version ${version}`);
      }
      if (version < from.version) {
        throw new ProjectionSwitchError(`the active model is projection version ${from.version}; version ${version} is older`);
      }
      let goal: number;
      if (options.throughSeq !== undefined) {
        goal = options.throughSeq;
      } else {
        const [live, rebuilt] = [await readModelStream(tx, from.schema), await readModelStream(tx, schema)];
        if (live.identity && rebuilt.identity && !sameStream(live.identity, rebuilt.identity)) {
          throw new ProjectionSwitchError(
            `${schema} was projected from ${rebuilt.identity.stream} created ${rebuilt.identity.created}, the active model from ${live.identity.stream} created ${live.identity.created}`,
          );
        }
        goal = live.checkpoint;
      }
      const built = await readCheckpoint(tx, schema);
      if (built < goal) await catchUp(tx, schema, built + 1, goal);
      const reached = await readCheckpoint(tx, schema);
      if (reached < goal) {
        throw new ProjectionSwitchError(`${schema} reached ${reached}, short of ${options.throughSeq !== undefined ? 'seq' : 'the live checkpoint'} ${goal}`);
      }
      await this.pointViewsAt(tx, schema);
      await tx.query(
        `UPDATE ${this.table('projection_registry')}
            SET active_schema = $2, active_version = $3, switched_at = now(), previous_schema = $4 WHERE name = $1`,
        [PROJECTION_NAME, schema, version, from.schema],
      );
      await tx.query(`DELETE FROM ${this.table('projection_builds')} WHERE schema_name = $1`, [schema]);
      return { from, checkpoint: goal };
    });
    // The model before the previous one is not needed any more.
    if (result.from.previousSchema && result.from.previousSchema !== schema) {
      await this.ds.query(`DROP SCHEMA IF EXISTS "${assertIdentifier(result.from.previousSchema)}" CASCADE`).catch(() => undefined);
    }
    return { from: result.from, to: await this.active(), checkpoint: result.checkpoint };
  }

  /**
   * Holds a session-level advisory lock on its own connection while `run` goes on; null (and `run`
   * is not called) when another session holds it. A lock dies with its session, so a crashed
   * builder never blocks the next one.
   */
  async whileHolding<T>(key: string, run: () => Promise<T>): Promise<{ value: T } | null> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      const [{ locked }] = (await runner.query(`SELECT pg_try_advisory_lock(hashtext($1)) AS locked`, [key])) as [{ locked: boolean }];
      if (!locked) return null;
      try {
        return { value: await run() };
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [key]).catch(() => undefined);
      }
    } finally {
      await runner.release();
    }
  }

  /** A name for a new model schema of `version` of this home (see modelSchemaName). */
  newModelSchemaName(version: number): string {
    return modelSchemaName(this.home, version);
  }

  /**
   * The advisory-lock key of the jobs service's own rebuild to projection `version` (an upgrade, or a
   * model of a new stream): the instance holding it builds, the others wait.
   */
  rebuildLockKey(version: number): string {
    return `framewire:upgrade:${this.home}:${version}`;
  }

  /** The advisory-lock key a build of `schema` holds while it runs. */
  buildLockKey(schema: string): string {
    return `framewire:build:${schema}`;
  }

  /**
   * Drops what nobody will use: replay builds whose process is gone (their lock is free), upgrade
   * builds of a version the active model has reached, and model schemas of this home that are
   * neither active, previous nor a recorded build.
   */
  async collectGarbage(): Promise<string[]> {
    const active = await this.find();
    if (!active) return [];
    const dropped: string[] = [];
    const builds: { schema_name: string; version: number; purpose: string }[] = await this.ds.query(
      `SELECT schema_name, version, purpose FROM ${this.table('projection_builds')}`,
    );
    for (const build of builds) {
      const obsolete = build.purpose === 'upgrade' ? build.version <= active.version : true;
      if (!obsolete) continue;
      const gone = await this.whileHolding(this.buildLockKey(build.schema_name), async () => {
        await this.dropBuild(build.schema_name);
        return true;
      });
      if (gone) dropped.push(build.schema_name);
    }
    const keep = new Set([active.schema, active.previousSchema, ...builds.map((b) => b.schema_name)]);
    const schemas: { nspname: string }[] = await this.ds.query(`SELECT nspname FROM pg_namespace WHERE nspname LIKE $1`, [
      `${this.home.slice(0, 40).replace(/_/g, '\\_')}\\_v%`,
    ]);
    for (const { nspname } of schemas) {
      if (keep.has(nspname) || !isModelSchemaOf(this.home, nspname)) continue;
      // A build is recorded before its schema is created, so an unrecorded model schema is an orphan.
      const recorded = await this.ds.query(`SELECT 1 FROM ${this.table('projection_builds')} WHERE schema_name = $1`, [nspname]);
      if (recorded.length) continue;
      await this.ds.query(`DROP SCHEMA IF EXISTS "${nspname}" CASCADE`);
      dropped.push(nspname);
    }
    return dropped;
  }

  private table(name: string): string {
    return qualified(this.home, name);
  }

  private async find(q: Pick<DataSource, 'query'> | EntityManager = this.ds): Promise<ActiveProjection | null> {
    const exists: { ok: string | null }[] = await q.query(`SELECT to_regclass($1) AS ok`, [`"${this.home}".projection_registry`]);
    if (!exists[0]?.ok) return null;
    const rows: RegistryRow[] = await q.query(`SELECT * FROM ${this.table('projection_registry')} WHERE name = $1`, [PROJECTION_NAME]);
    return rows[0] ? toActive(rows[0]) : null;
  }

  private async lockRow(tx: EntityManager, mode: 'FOR UPDATE' | 'FOR KEY SHARE'): Promise<ActiveProjection> {
    const rows: RegistryRow[] = await tx.query(`SELECT * FROM ${this.table('projection_registry')} WHERE name = $1 ${mode}`, [PROJECTION_NAME]);
    if (!rows[0]) throw new ProjectionSwitchError(`no active read model in schema ${this.home}`);
    return toActive(rows[0]);
  }

  private async pointViewsAt(tx: EntityManager, schema: string): Promise<void> {
    for (const table of VIEWED_TABLES) {
      await tx.query(`DROP VIEW IF EXISTS ${this.table(table)}`);
      await tx.query(`CREATE VIEW ${this.table(table)} AS SELECT * FROM ${qualified(schema, table)}`);
    }
  }

  private async legacyTablesPresent(): Promise<boolean> {
    const rows: { relkind: string }[] = await this.ds.query(
      `SELECT c.relkind FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = $1 AND c.relname = 'jobs'`,
      [this.home],
    );
    return rows[0]?.relkind === 'r';
  }

  /** Moves the tables of a pre-registry read model out of the home schema into a model schema, in one transaction. */
  private async adoptLegacy(schema: string): Promise<void> {
    await this.ds.transaction(async (tx) => {
      await tx.query(`CREATE SCHEMA "${schema}"`);
      for (const table of [...VIEWED_TABLES, 'migrations']) {
        const found: { ok: string | null }[] = await tx.query(`SELECT to_regclass($1) AS ok`, [`"${this.home}".${table}`]);
        if (found[0]?.ok) await tx.query(`ALTER TABLE ${this.table(table)} SET SCHEMA "${schema}"`);
      }
    });
  }

  private async withAdvisoryLock(key: string, run: () => Promise<void>): Promise<void> {
    const runner = this.ds.createQueryRunner();
    await runner.connect();
    try {
      await runner.query(`SELECT pg_advisory_lock(hashtext($1))`, [key]);
      try {
        await run();
      } finally {
        await runner.query(`SELECT pg_advisory_unlock(hashtext($1))`, [key]).catch(() => undefined);
      }
    } finally {
      await runner.release();
    }
  }
}

interface RegistryRow {
  active_schema: string;
  active_version: number;
  switched_at: Date;
  previous_schema: string | null;
}

function toActive(row: RegistryRow): ActiveProjection {
  return { schema: row.active_schema, version: row.active_version, switchedAt: row.switched_at, previousSchema: row.previous_schema };
}
