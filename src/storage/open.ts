/**
 * `openStore`: the store the configuration asks for. It loads only the implementation it
 * opens (a dynamic import), so a `gatehouse serve` without OAuth nor PostgreSQL never loads
 * pg or better-sqlite3 (about 15 MB of memory); the storage barrel (index.ts) loads them all.
 */
import { mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { StorageError } from './errors.js';
import type { OAuthStore } from './port.js';

/** The SQLite file's name inside the data directory. */
export const SQLITE_FILE_NAME = 'gatehouse.sqlite';

export interface OpenStoreOptions {
  /** `database_url`: a postgres:// or postgresql:// URL, or null for the embedded SQLite database. */
  readonly databaseUrl: string | null;
  /** The data directory; holds the SQLite file. */
  readonly dataDir: string;
}

/**
 * Opens the store the configuration asks for: PostgreSQL for a postgres:// or postgresql:// URL
 * (its schema migrated at open), else SQLite in `<dataDir>/gatehouse.sqlite` when no database
 * URL is set. The data directory is created owner-only (0700): the database holds
 * token hashes and users' grants.
 *
 * @example
 * const store = await openStore({ databaseUrl: null, dataDir: '/var/lib/gatehouse' });
 */
export async function openStore(options: OpenStoreOptions): Promise<OAuthStore> {
  const { databaseUrl, dataDir } = options;
  if (databaseUrl !== null) {
    // The data directory is not needed (nor created) for PostgreSQL.
    if (/^postgres(ql)?:\/\//i.test(databaseUrl)) return (await import('./postgres.js')).openPostgresStore(databaseUrl);
    // Only the scheme is echoed: a URL may carry a password.
    const scheme = /^([a-z][a-z0-9+.-]*):/i.exec(databaseUrl)?.[1];
    throw new StorageError(
      'ERR_STORAGE_UNSUPPORTED',
      `unsupported database_url${scheme === undefined ? '' : ` scheme "${scheme}:"`}; expected a postgres:// or postgresql:// URL, or none for SQLite`,
    );
  }
  try {
    // An existing directory keeps its mode: the operator may have chosen it on purpose.
    await mkdir(dataDir, { recursive: true, mode: 0o700 });
  } catch (err) {
    throw new StorageError('ERR_STORAGE_UNAVAILABLE', `cannot create the data directory ${dataDir}`, { cause: err });
  }
  return (await import('./sqlite-open.js')).openSqliteStore(join(dataDir, SQLITE_FILE_NAME));
}
