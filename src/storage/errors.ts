/**
 * Errors of the storage layer. Every failure of a store is a `StorageError` with a stable
 * `code`, so that callers can `switch (err.code)`. The driver's own error (SQLite, later
 * PostgreSQL) travels in `cause` for the log; messages never contain a token, code or hash.
 * Caller misuse (a malformed argument) is a `TypeError`, not a StorageError.
 */

/** Every storage error code, with its default message. */
export const StorageErrorCodes = {
  /** The database cannot be reached, is locked past busy_timeout, or an I/O failed: retry later (HTTP 503). */
  ERR_STORAGE_UNAVAILABLE: 'the database is unavailable',
  /** The database was written by a newer Gatehouse; opening it could corrupt it. */
  ERR_STORAGE_SCHEMA_TOO_NEW: 'the database schema is newer than this version of Gatehouse',
  /** A schema migration failed; it was rolled back and the database is unchanged. */
  ERR_STORAGE_MIGRATION_FAILED: 'a database migration failed',
  /** The file is not a database, or it is damaged. */
  ERR_STORAGE_CORRUPT: 'the database file is corrupt or is not a database',
  /** A record with the same key (grant id, hash, user code) already exists. */
  ERR_STORAGE_CONFLICT: 'a record with this key already exists',
  /** A token, code or device refers to a grant that does not exist. */
  ERR_STORAGE_UNKNOWN_GRANT: 'the referenced grant does not exist',
  /** The store was closed. */
  ERR_STORAGE_CLOSED: 'the store is closed',
  /** The database refused a statement for a reason that retrying will not fix (a bug). */
  ERR_STORAGE_INTERNAL: 'the database rejected a statement',
  /** The configured database is not supported by this build. */
  ERR_STORAGE_UNSUPPORTED: 'this database is not supported',
} as const;

export type StorageErrorCode = keyof typeof StorageErrorCodes;

/** A typed storage error. `code` is stable; `message` is for humans. */
export class StorageError extends Error {
  override readonly name = 'StorageError';
  readonly code: StorageErrorCode;

  constructor(code: StorageErrorCode, message?: string, options: { cause?: unknown } = {}) {
    super(message ?? StorageErrorCodes[code], options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }

  /**
   * True when the same request may succeed later, so a caller answers 503 (OAuth
   * `temporarily_unavailable`) rather than 500 or a client error. A closed store counts: it
   * happens during shutdown, and another instance may answer the retry.
   */
  get temporary(): boolean {
    return this.code === 'ERR_STORAGE_UNAVAILABLE' || this.code === 'ERR_STORAGE_CLOSED';
  }
}

export function isStorageError(err: unknown): err is StorageError {
  return err instanceof StorageError;
}
