/**
 * Brings an SQLite database to the newest schema version at open. Enforces:
 * - pending migrations run in order, all in one transaction with their `schema_migrations`
 *   rows: a failure leaves the database exactly as it was;
 * - the transaction is IMMEDIATE, so two processes opening the same file at once cannot both
 *   migrate it (the second waits for busy_timeout, then sees the work done);
 * - a database from a newer Gatehouse is refused rather than used by code that does not know
 *   its schema (after a downgrade, say).
 */
import type { Database } from 'better-sqlite3';
import { StorageError } from '../errors.js';
import { checkMigrations, latestVersion, type Migration } from './migration.js';

const CREATE_TABLE = `
CREATE TABLE IF NOT EXISTS schema_migrations (
  version    INTEGER NOT NULL PRIMARY KEY,
  name       TEXT    NOT NULL,
  applied_at INTEGER NOT NULL
) STRICT`;

export interface MigrationResult {
  /** Schema version before opening (0 for a new database). */
  readonly from: number;
  /** Schema version now. */
  readonly to: number;
}

/** Applies the pending migrations of `list` to `db`; throws a StorageError when it cannot. */
export function applySqliteMigrations(db: Database, list: readonly Migration[], now: number = Date.now()): MigrationResult {
  checkMigrations(list);
  const known = latestVersion(list);
  const run = db.transaction((): MigrationResult => {
    db.exec(CREATE_TABLE);
    const current = db.prepare<[], number | null>('SELECT max(version) FROM schema_migrations').pluck().get() ?? 0;
    if (current > known) {
      throw new StorageError(
        'ERR_STORAGE_SCHEMA_TOO_NEW',
        `the database has schema version ${current} but this version of Gatehouse knows only up to ${known}: upgrade Gatehouse, or restore a backup made before the upgrade`,
      );
    }
    const record = db.prepare<[number, string, number]>('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)');
    for (const m of list) {
      if (m.version <= current) continue;
      try {
        db.exec(m.sql);
      } catch (err) {
        throw new StorageError('ERR_STORAGE_MIGRATION_FAILED', `database migration ${m.version} (${m.name}) failed; nothing was changed`, { cause: err });
      }
      record.run(m.version, m.name, now);
    }
    return { from: current, to: Math.max(current, known) };
  });
  return run.immediate();
}
