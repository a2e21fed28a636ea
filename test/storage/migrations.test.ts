/** Versioned migrations: a well-formed list, applied in order, all or nothing, never downgraded. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { applySqliteMigrations } from '../../src/storage/migrations/apply-sqlite.js';
import { checkMigrations, latestVersion, type Migration } from '../../src/storage/migrations/migration.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/migrations/sqlite.js';
import { T0 } from '../helpers/storage-records.js';

const one: Migration = { version: 1, name: 'create_a', sql: 'CREATE TABLE a (x INTEGER) STRICT;' };
const two: Migration = { version: 2, name: 'create_b', sql: 'CREATE TABLE b (y INTEGER) STRICT;' };
const broken: Migration = { version: 3, name: 'broken', sql: 'CREATE TABLE c (z INTEGER); CREATE TABLE a (x INTEGER);' };

/** Tables of `db`, sorted. */
function tables(db: Database.Database): string[] {
  return db.prepare<[], string>(`SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name`).pluck().all();
}

function versions(db: Database.Database): number[] {
  return db.prepare<[], number>('SELECT version FROM schema_migrations ORDER BY version').pluck().all();
}

test('the SQLite migration list is numbered 1, 2, 3, ... with snake_case names', () => {
  checkMigrations(SQLITE_MIGRATIONS);
  assert.equal(latestVersion(SQLITE_MIGRATIONS), SQLITE_MIGRATIONS.length);
});

test('checkMigrations rejects a gap, a swap and a bad name', () => {
  assert.throws(() => checkMigrations([one, { ...two, version: 3 }]), {
    name: 'TypeError',
    message: 'migration #1 (create_b) has version 3, expected 2',
  });
  assert.throws(() => checkMigrations([two, one]), { name: 'TypeError', message: 'migration #0 (create_b) has version 2, expected 1' });
  assert.throws(() => checkMigrations([{ ...one, name: 'Create A' }]), {
    name: 'TypeError',
    message: 'migration 1 has an invalid name: "Create A"',
  });
  assert.equal(latestVersion([]), 0);
});

test('pending migrations are applied in order and recorded; applying again does nothing', (t) => {
  const db = new Database(':memory:');
  t.after(() => db.close());
  assert.deepEqual(applySqliteMigrations(db, [one], T0), { from: 0, to: 1 });
  assert.deepEqual(applySqliteMigrations(db, [one, two], T0 + 1), { from: 1, to: 2 });
  assert.deepEqual(applySqliteMigrations(db, [one, two], T0 + 2), { from: 2, to: 2 });
  assert.deepEqual(tables(db), ['a', 'b', 'schema_migrations']);
  assert.deepEqual(db.prepare('SELECT * FROM schema_migrations ORDER BY version').all(), [
    { version: 1, name: 'create_a', applied_at: T0 },
    { version: 2, name: 'create_b', applied_at: T0 + 1 },
  ]);
});

test('a failing migration rolls back every pending one, and the error names it', (t) => {
  const db = new Database(':memory:');
  t.after(() => db.close());
  applySqliteMigrations(db, [one], T0);
  // 2 succeeds, 3 fails half-way: neither b nor c may remain.
  assert.throws(() => applySqliteMigrations(db, [one, two, broken], T0), (err: unknown) => {
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'StorageError');
    assert.equal((err as { code?: string }).code, 'ERR_STORAGE_MIGRATION_FAILED');
    assert.equal(err.message, 'database migration 3 (broken) failed; nothing was changed');
    assert.equal((err.cause as { code?: string }).code, 'SQLITE_ERROR');
    return true;
  });
  assert.deepEqual(tables(db), ['a', 'schema_migrations']);
  assert.deepEqual(versions(db), [1]);
});

test('a database newer than the list is refused, naming both versions', (t) => {
  const db = new Database(':memory:');
  t.after(() => db.close());
  applySqliteMigrations(db, [one, two], T0);
  assert.throws(() => applySqliteMigrations(db, [one], T0), {
    name: 'StorageError',
    code: 'ERR_STORAGE_SCHEMA_TOO_NEW',
    message: 'the database has schema version 2 but this version of Gatehouse knows only up to 1: upgrade Gatehouse, or restore a backup made before the upgrade',
  });
  assert.deepEqual(versions(db), [1, 2]);
});
