/** The storage error catalogue, and how SQLite failures map onto it. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { StorageError, StorageErrorCodes, isStorageError, type StorageErrorCode } from '../../src/storage/errors.js';
import { fromSqliteError, storageCodeOf } from '../../src/storage/sqlite-errors.js';

const CODES = Object.keys(StorageErrorCodes) as StorageErrorCode[];

test('every storage error code is ERR_STORAGE_* and has a lower-case message', () => {
  for (const code of CODES) {
    assert.match(code, /^ERR_STORAGE_[A-Z_]+$/);
    const err = new StorageError(code);
    assert.equal(err.code, code);
    assert.equal(err.name, 'StorageError');
    assert.equal(err.message, StorageErrorCodes[code]);
    assert.match(err.message, /^[a-z]/);
    assert.ok(isStorageError(err));
  }
  assert.equal(isStorageError(new Error('x')), false);
});

test('only an unavailable or closed store is temporary (HTTP 503); the rest are not worth a retry', () => {
  const temporary = CODES.filter((code) => new StorageError(code).temporary);
  assert.deepEqual(temporary.sort(), ['ERR_STORAGE_CLOSED', 'ERR_STORAGE_UNAVAILABLE']);
});

test('SQLite result codes map to storage codes, extended codes with their base', () => {
  const table: [string, StorageErrorCode][] = [
    ['SQLITE_BUSY', 'ERR_STORAGE_UNAVAILABLE'],
    ['SQLITE_BUSY_SNAPSHOT', 'ERR_STORAGE_UNAVAILABLE'],
    ['SQLITE_LOCKED', 'ERR_STORAGE_UNAVAILABLE'],
    ['SQLITE_IOERR_FSYNC', 'ERR_STORAGE_UNAVAILABLE'],
    ['SQLITE_FULL', 'ERR_STORAGE_UNAVAILABLE'],
    ['SQLITE_READONLY_DBMOVED', 'ERR_STORAGE_UNAVAILABLE'],
    ['SQLITE_CANTOPEN', 'ERR_STORAGE_UNAVAILABLE'],
    ['SQLITE_CORRUPT', 'ERR_STORAGE_CORRUPT'],
    ['SQLITE_NOTADB', 'ERR_STORAGE_CORRUPT'],
    ['SQLITE_CONSTRAINT_PRIMARYKEY', 'ERR_STORAGE_CONFLICT'],
    ['SQLITE_CONSTRAINT_UNIQUE', 'ERR_STORAGE_CONFLICT'],
    ['SQLITE_CONSTRAINT_FOREIGNKEY', 'ERR_STORAGE_UNKNOWN_GRANT'],
    ['SQLITE_ERROR', 'ERR_STORAGE_INTERNAL'],
    ['SQLITE_MISUSE', 'ERR_STORAGE_INTERNAL'],
    // Not a prefix match on the name: SQLITE_BUSYNESS is no SQLITE_BUSY.
    ['SQLITE_BUSYNESS', 'ERR_STORAGE_INTERNAL'],
  ];
  for (const [sqlite, code] of table) assert.equal(storageCodeOf(sqlite), code, sqlite);
});

test('fromSqliteError wraps driver errors with their cause and passes anything else through', () => {
  const busy = new Database.SqliteError('database is locked', 'SQLITE_BUSY');
  const wrapped = fromSqliteError(busy);
  assert.ok(wrapped instanceof StorageError);
  assert.equal(wrapped.code, 'ERR_STORAGE_UNAVAILABLE');
  assert.equal(wrapped.message, 'the database is unavailable (SQLITE_BUSY)');
  assert.equal(wrapped.cause, busy);
  assert.equal(wrapped.temporary, true);

  // A record that breaks a CHECK or a STRICT column type is the caller's bug: TypeError.
  const check = new Database.SqliteError('CHECK constraint failed: kind', 'SQLITE_CONSTRAINT_CHECK');
  const misuse = fromSqliteError(check);
  assert.ok(misuse instanceof TypeError);
  assert.equal(misuse.message, 'invalid record (SQLITE_CONSTRAINT_CHECK)');
  assert.equal(misuse.cause, check);

  const ours = new StorageError('ERR_STORAGE_CLOSED');
  assert.equal(fromSqliteError(ours), ours);
  const other = new RangeError('x');
  assert.equal(fromSqliteError(other), other);
});
