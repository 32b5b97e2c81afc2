import { randomBytes } from 'node:crypto';
import { openMigratedReadModel } from './data-source.js';

/** A schema name we generate or accept: lower-case SQL identifier, safe to quote into DDL. */
const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

export function assertIdentifier(name: string): string {
  if (!IDENTIFIER.test(name)) throw new Error(`"${name}" is not a lower-case SQL identifier`);
  return name;
}

/** `"schema"."table"`, for a schema name that passed assertIdentifier. */
export function qualified(schema: string, table: string): string {
  return `"${assertIdentifier(schema)}"."${table}"`;
}

/**
 * The name of a new model schema of projection `version` beside the home schema:
 * `<home>_v<version>_<unique>`, at most 63 characters. Every model, live or being built, has its own.
 */
export function modelSchemaName(home: string, version: number): string {
  const unique = `${Date.now().toString(36)}${randomBytes(3).toString('hex')}`;
  return assertIdentifier(`${home.slice(0, 40)}_v${version}_${unique}`);
}

/** True when `schema` is a model schema of `home` (named by modelSchemaName). */
export function isModelSchemaOf(home: string, schema: string): boolean {
  const prefix = `${home.slice(0, 40)}_v`;
  return schema.startsWith(prefix) && /^\d+_[a-z0-9]+$/.test(schema.slice(prefix.length));
}

/**
 * Creates a model schema if needed and runs the read model's migrations in it (the jobs table and
 * its checkpoint), under an advisory lock so that concurrent callers migrate one after the other.
 */
export async function migrateModelSchema(url: string, schema: string): Promise<void> {
  const ds = await openMigratedReadModel({ url, schema: assertIdentifier(schema), poolSize: 2 });
  await ds.destroy();
}
