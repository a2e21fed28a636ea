/**
 * Maps node-postgres errors to StorageError codes, keeping the driver error as `cause`.
 * SQLSTATE codes: https://www.postgresql.org/docs/current/errcodes-appendix.html. Errors that
 * are not from the server (refused or dropped connections, pool and connect timeouts) mean
 * the database cannot be reached: callers answer 503.
 */
import pg from 'pg';
import { StorageError, StorageErrorCodes, type StorageErrorCode } from './errors.js';

// Connection exceptions (08), too many connections or out of disk/memory (53), operator
// intervention: shutdown, statement timeout, server starting (57), system I/O errors (58),
// a lock not available (55P03), a deadlock or serialization failure left after retries (40),
// and authorization or database-name problems (28, 3D): the request may succeed later.
const UNAVAILABLE_CLASSES = ['08', '53', '57', '58', '40', '28', '3D'];
// A CHECK, NOT NULL or type failure means the caller passed a malformed record.
const INVALID_RECORD = ['23514', '23502', '22P02', '22003', '22001', '22021'];

/** The StorageError code for a PostgreSQL SQLSTATE. */
export function storageCodeOfSqlState(sqlState: string): StorageErrorCode {
  if (UNAVAILABLE_CLASSES.includes(sqlState.slice(0, 2)) || sqlState === '55P03') return 'ERR_STORAGE_UNAVAILABLE';
  if (sqlState === 'XX001' || sqlState === 'XX002') return 'ERR_STORAGE_CORRUPT';
  if (sqlState === '23505') return 'ERR_STORAGE_CONFLICT';
  if (sqlState === '23503') return 'ERR_STORAGE_UNKNOWN_GRANT';
  return 'ERR_STORAGE_INTERNAL';
}

/** True for a deadlock or serialization failure: the transaction was rolled back and may be retried. */
export function isRetryable(err: unknown): boolean {
  return err instanceof pg.DatabaseError && (err.code === '40P01' || err.code === '40001');
}

/** True when the error concerns the connection itself, which must then not be reused. */
export function isConnectionError(err: unknown): boolean {
  if (err instanceof StorageError || err instanceof TypeError) return false;
  // From the server: only a connection exception or a shutdown ends the session; after a
  // timeout or a constraint failure the connection is still good for ROLLBACK and reuse.
  if (err instanceof pg.DatabaseError) {
    const sqlState = err.code ?? '';
    return sqlState.startsWith('08') || ['57P01', '57P02', '57P03'].includes(sqlState);
  }
  return true;
}

/**
 * Turns a driver error into a StorageError (or a TypeError for a malformed record); our own
 * StorageErrors and TypeErrors pass through unchanged.
 */
export function fromPgError(err: unknown): unknown {
  if (err instanceof StorageError || err instanceof TypeError) return err;
  if (err instanceof pg.DatabaseError) {
    const sqlState = err.code ?? '';
    if (INVALID_RECORD.includes(sqlState)) return new TypeError(`invalid record (SQLSTATE ${sqlState})`, { cause: err });
    const code = storageCodeOfSqlState(sqlState);
    // Server messages name tables, columns and constraints; `detail` (which may quote a key
    // value such as a hash) is deliberately left out.
    return new StorageError(code, `${StorageErrorCodes[code]} (SQLSTATE ${sqlState})`, { cause: err });
  }
  // Not from the server: ECONNREFUSED, ECONNRESET, "Connection terminated", pool timeouts...
  const sys = (err as { code?: unknown } | null)?.code;
  const reason = typeof sys === 'string' && /^E[A-Z0-9_]+$/.test(sys) ? ` (${sys})` : '';
  return new StorageError('ERR_STORAGE_UNAVAILABLE', `${StorageErrorCodes.ERR_STORAGE_UNAVAILABLE}${reason}`, { cause: err });
}
