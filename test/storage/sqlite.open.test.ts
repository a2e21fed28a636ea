/** Opening an SQLite database: WAL on disk, migrations recorded once, and refusals with coded errors. */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { applySqliteMigrations } from '../../src/storage/migrations/apply-sqlite.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/migrations/sqlite.js';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';
import { grantRecord, T0, tokenRecord } from '../helpers/storage-records.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-open-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const LATEST = SQLITE_MIGRATIONS.at(-1)!.version;

/** Reads the file with a separate connection, as an operator's sqlite3 shell would. */
function inspect<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

test('a new database file is in WAL mode and records every migration once', async () => {
  const file = join(dir, 'new.sqlite');
  const store = await openSqliteStore(file);
  assert.equal(store.schemaVersion, LATEST);
  await store.close();
  // Reopening applies nothing twice.
  await (await openSqliteStore(file)).close();

  inspect(file, (db) => {
    assert.equal(db.pragma('journal_mode', { simple: true }), 'wal');
    const rows = db.prepare('SELECT version, name FROM schema_migrations ORDER BY version').all();
    assert.deepEqual(rows, SQLITE_MIGRATIONS.map(({ version, name }) => ({ version, name })));
  });
});

test('a version 1 database is upgraded in place: its grants and tokens stay, the new table arrives', async () => {
  const file = join(dir, 'v1.sqlite');
  const db = new Database(file);
  applySqliteMigrations(db, SQLITE_MIGRATIONS.slice(0, 1), T0);
  const grant = grantRecord();
  const token = tokenRecord(grant.id);
  db.prepare(`INSERT INTO grants (id, host, username, client_id, client_hash, client_name, client_uri, scope, created_at, last_used_at, auth_time, revoked_at)
    VALUES (@id, @host, @user, @clientId, @clientHash, @clientName, @clientUri, @scope, @createdAt, @lastUsedAt, @authTime, @revokedAt)`).run(grant);
  db.prepare(`INSERT INTO tokens (hash, kind, grant_id, scope, created_at, expires_at, revoked_at, used_at)
    VALUES (@hash, @kind, @grantId, @scope, @createdAt, @expiresAt, @revokedAt, @usedAt)`).run(token);
  db.close();

  const store = await openSqliteStore(file);
  try {
    assert.equal(store.schemaVersion, LATEST);
    assert.deepEqual(await store.getGrant(grant.id), grant);
    assert.deepEqual((await store.findToken(token.hash))?.token, token);
    await store.endSessions(grant.host, grant.user, T0);
    assert.equal(await store.sessionsNotBefore(grant.host, grant.user), T0);
  } finally {
    await store.close();
  }
});

test('a database from a newer Gatehouse is refused, naming both versions, and left untouched', async () => {
  const file = join(dir, 'future.sqlite');
  await (await openSqliteStore(file)).close();
  const db = new Database(file);
  db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST + 1, 'from_the_future', T0);
  db.close();

  await assert.rejects(openSqliteStore(file), {
    name: 'StorageError',
    code: 'ERR_STORAGE_SCHEMA_TOO_NEW',
    message:
      `cannot open the database ${file}: the database has schema version ${LATEST + 1} but this version of Gatehouse ` +
      `knows only up to ${LATEST}: upgrade Gatehouse, or restore a backup made before the upgrade`,
  });
  const versions = inspect(file, (d) => d.prepare('SELECT version FROM schema_migrations ORDER BY version').pluck().all());
  assert.deepEqual(versions, [...SQLITE_MIGRATIONS.map((m) => m.version), LATEST + 1]);
});

test('a file that is not a database is refused as corrupt, with the driver error as cause', async () => {
  const file = join(dir, 'garbage.sqlite');
  writeFileSync(file, 'this is not an SQLite database\n'.repeat(200));
  const err = await openSqliteStore(file).then(
    () => assert.fail('opened a file that is not a database'),
    (e: unknown) => e,
  );
  assert.ok(err instanceof Error);
  assert.equal(err.name, 'StorageError');
  assert.equal((err as { code?: string }).code, 'ERR_STORAGE_CORRUPT');
  assert.equal(err.message, `cannot open the database ${file}: the database file is corrupt or is not a database (SQLITE_NOTADB)`);
  assert.equal((err.cause as { code?: string }).code, 'SQLITE_NOTADB');
});

test('a database in a missing directory is unavailable, not a crash', async () => {
  const file = join(dir, 'no-such-dir', 'x.sqlite');
  await assert.rejects(openSqliteStore(file), {
    name: 'StorageError',
    code: 'ERR_STORAGE_UNAVAILABLE',
    message: `cannot open the database ${file}: Cannot open database because the directory does not exist`,
  });
});
