/**
 * Opening the embedded SQLite store: inline (every statement on the calling thread,
 * sqlite.ts) or with its writes on a writer thread (sqlite-threaded.ts). A module of its own
 * so that neither store imports the other.
 */
import type { OAuthStore } from './port.js';
import { SqliteStore } from './sqlite.js';
import { ThreadedSqliteStore } from './sqlite-threaded.js';

export interface SqliteStoreOptions {
  /**
   * Where writes run: `thread` (the default for a file) on a writer thread of their own, so
   * that waiting for the disk never blocks the event loop (sqlite-threaded.ts); `inline` on
   * the calling thread. A private ':memory:' database is always inline: a second connection
   * could not see it.
   */
  readonly writer?: 'thread' | 'inline';
}

/**
 * Opens the SQLite store in `file` (':memory:' for a private in-memory database), creating it
 * and applying pending migrations.
 *
 * @example
 * const store = await openSqliteStore('/var/lib/gatehouse/gatehouse.sqlite');
 * const r = await store.consumeCode(hash, Date.now());
 * if (r.status !== 'ok') throw new OAuthError('invalid_grant');
 */
export async function openSqliteStore(file: string, options: SqliteStoreOptions = {}): Promise<OAuthStore & { readonly schemaVersion: number }> {
  if (file === ':memory:' || options.writer === 'inline') return SqliteStore.open(file);
  return ThreadedSqliteStore.open(file);
}
