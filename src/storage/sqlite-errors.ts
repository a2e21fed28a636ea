/**
 * Maps better-sqlite3 errors to StorageError codes, keeping the driver error as `cause`.
 * SQLite result codes: https://www.sqlite.org/rescode.html. The extended code (e.g.
 * SQLITE_CONSTRAINT_FOREIGNKEY) is what better-sqlite3 puts in `err.code`.
 */
import Database from 'better-sqlite3';
import { StorageError, StorageErrorCodes, type StorageErrorCode } from './errors.js';

// A lock held past busy_timeout, an I/O failure, a full disk, a read-only file: the request may
// succeed later or on another instance, so callers answer 503.
const UNAVAILABLE = ['SQLITE_BUSY', 'SQLITE_LOCKED', 'SQLITE_IOERR', 'SQLITE_FULL', 'SQLITE_CANTOPEN', 'SQLITE_READONLY', 'SQLITE_PROTOCOL', 'SQLITE_NOMEM', 'SQLITE_PERM', 'SQLITE_AUTH', 'SQLITE_NOLFS'];
const CORRUPT = ['SQLITE_CORRUPT', 'SQLITE_NOTADB'];
// A CHECK, NOT NULL or STRICT type failure means the caller passed a malformed record.
const INVALID_RECORD = ['SQLITE_CONSTRAINT_CHECK', 'SQLITE_CONSTRAINT_NOTNULL', 'SQLITE_CONSTRAINT_DATATYPE', 'SQLITE_MISMATCH'];

/** True when `code` is `base` or one of its extended codes (SQLITE_IOERR_FSYNC is an SQLITE_IOERR). */
function isA(code: string, bases: readonly string[]): boolean {
  return bases.some((base) => code === base || code.startsWith(`${base}_`));
}

/** The StorageError code for an SQLite result code. */
export function storageCodeOf(sqliteCode: string): StorageErrorCode {
  if (isA(sqliteCode, UNAVAILABLE)) return 'ERR_STORAGE_UNAVAILABLE';
  if (isA(sqliteCode, CORRUPT)) return 'ERR_STORAGE_CORRUPT';
  if (sqliteCode === 'SQLITE_CONSTRAINT_PRIMARYKEY' || sqliteCode === 'SQLITE_CONSTRAINT_UNIQUE') return 'ERR_STORAGE_CONFLICT';
  if (sqliteCode === 'SQLITE_CONSTRAINT_FOREIGNKEY') return 'ERR_STORAGE_UNKNOWN_GRANT';
  return 'ERR_STORAGE_INTERNAL';
}

/**
 * Turns a driver error into a StorageError (or a TypeError for a malformed record); anything
 * else (our own StorageError, a TypeError from argument checks) passes through unchanged.
 */
export function fromSqliteError(err: unknown): unknown {
  if (!(err instanceof Database.SqliteError)) return err;
  if (isA(err.code, INVALID_RECORD)) return new TypeError(`invalid record (${err.code})`, { cause: err });
  const code = storageCodeOf(err.code);
  // The driver message names tables and columns, never values, so it is safe to keep.
  return new StorageError(code, `${StorageErrorCodes[code]} (${err.code})`, { cause: err });
}

