/**
 * Brings a PostgreSQL schema to the newest version at open. Enforces:
 * - pending migrations run in order, all in one transaction with their `schema_migrations`
 *   rows: a failure leaves the database exactly as it was (PostgreSQL DDL is transactional);
 * - the transaction first takes a transaction-scoped advisory lock keyed on the schema, so
 *   several instances starting together migrate it once: the others wait, then see it done;
 * - a schema from a newer Gatehouse is refused rather than used by code that does not know it.
 * Tables live in the connection's current schema (the first of its search_path).
 */
import type { ClientBase } from 'pg';
import { StorageError } from '../errors.js';
import { checkMigrations, latestVersion, type Migration } from './migration.js';
import type { MigrationResult } from './apply-sqlite.js';

export type { MigrationResult } from './apply-sqlite.js';

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at BIGINT  NOT NULL
)`;

// Two keys: one for "Gatehouse migrations", one for the schema, so instances using different
// schemas of one database do not wait for each other.
const LOCK = `SELECT pg_advisory_xact_lock(hashtext('gatehouse.schema_migrations'), hashtext(coalesce(current_schema(), '')))`;

/**
 * Applies the pending migrations of `list` on `client` (which must not be inside a
 * transaction); throws a StorageError for a newer schema or a failed migration, and lets
 * driver errors through for the caller to map.
 */
export async function applyPostgresMigrations(
  client: Pick<ClientBase, 'query'>,
  list: readonly Migration[],
  now: number = Date.now(),
): Promise<MigrationResult> {
  checkMigrations(list);
  const known = latestVersion(list);
  await client.query('BEGIN');
  try {
    await client.query(LOCK);
    if (await currentSchemaMissing(client)) {
      throw new StorageError('ERR_STORAGE_UNAVAILABLE', 'no schema of the search_path exists in the database');
    }
    // Checked first, so that a plain restart takes no DDL lock on an existing table.
    const exists = await client.query<{ t: string | null }>(`SELECT to_regclass('schema_migrations')::text AS t`);
    if (exists.rows[0]?.t == null) await client.query(CREATE_TABLE);
    const { rows } = await client.query<{ v: number | null }>('SELECT max(version) AS v FROM schema_migrations');
    const current = rows[0]?.v ?? 0;
    if (current > known) {
      throw new StorageError(
        'ERR_STORAGE_SCHEMA_TOO_NEW',
        `the database has schema version ${current} but this version of Gatehouse knows only up to ${known}: upgrade Gatehouse, or restore a backup made before the upgrade`,
      );
    }
    for (const m of list) {
      if (m.version <= current) continue;
      try {
        await client.query(m.sql);
      } catch (err) {
        throw new StorageError('ERR_STORAGE_MIGRATION_FAILED', `database migration ${m.version} (${m.name}) failed; nothing was changed`, { cause: err });
      }
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [m.version, m.name, now]);
    }
    await client.query('COMMIT');
    return { from: current, to: Math.max(current, known) };
  } catch (err) {
    try {
      await client.query('ROLLBACK');
    } catch {
      // The connection is gone: the server rolls the transaction back itself.
    }
    throw err;
  }
}

async function currentSchemaMissing(client: Pick<ClientBase, 'query'>): Promise<boolean> {
  const { rows } = await client.query<{ s: string | null }>('SELECT current_schema() AS s');
  return rows[0]?.s == null;
}
