/** openStore: SQLite in the data directory by default; PostgreSQL URLs refused for now. */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { openStore, SQLITE_FILE_NAME, ThreadedSqliteStore } from '../../src/storage/index.js';
import { grantRecord } from '../helpers/storage-records.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-open-store-'));
after(() => rmSync(dir, { recursive: true, force: true }));

test('without a database URL, openStore creates an owner-only data directory holding gatehouse.sqlite', async (t) => {
  const dataDir = join(dir, 'data', 'nested');
  const store = await openStore({ databaseUrl: null, dataDir });
  t.after(() => store.close());
  // Writes on a thread of their own, so a commit's fsync never blocks the event loop.
  assert.ok(store instanceof ThreadedSqliteStore);
  assert.equal(statSync(dataDir).mode & 0o777, 0o700);
  assert.ok(existsSync(join(dataDir, SQLITE_FILE_NAME)));

  const grant = grantRecord();
  await store.createGrant(grant);
  await store.close();
  const again = await openStore({ databaseUrl: null, dataDir });
  t.after(() => again.close());
  assert.deepEqual(await again.getGrant(grant.id), grant);
});

test('a PostgreSQL server that cannot be reached is a temporary failure that never shows the password', async () => {
  // Port 1 on loopback: nothing listens there.
  for (const databaseUrl of ['postgres://gatehouse:s3cr3t-pw@127.0.0.1:1/gatehouse', 'postgresql://gatehouse:s3cr3t-pw@127.0.0.1:1/gatehouse']) {
    const err = await openStore({ databaseUrl, dataDir: join(dir, 'unused') }).then(
      () => null,
      (e: unknown) => e,
    );
    assert.ok(err instanceof Error);
    assert.equal((err as { code?: string }).code, 'ERR_STORAGE_UNAVAILABLE');
    assert.ok(!String((err as Error).message).includes('s3cr3t-pw'));
  }
  // PostgreSQL needs no data directory.
  assert.equal(existsSync(join(dir, 'unused')), false);
});

test('another URL scheme is refused without echoing the URL, which may hold a password', async () => {
  await assert.rejects(openStore({ databaseUrl: 'mysql://root:hunter2@127.0.0.1/x', dataDir: dir }), {
    name: 'StorageError',
    code: 'ERR_STORAGE_UNSUPPORTED',
    message: 'unsupported database_url scheme "mysql:"; expected a postgres:// or postgresql:// URL, or none for SQLite',
  });
  await assert.rejects(openStore({ databaseUrl: 'not a url', dataDir: dir }), {
    code: 'ERR_STORAGE_UNSUPPORTED',
    message: 'unsupported database_url; expected a postgres:// or postgresql:// URL, or none for SQLite',
  });
});

test('a data directory that cannot be created is reported as unavailable', async () => {
  // A path under a regular file can never be a directory, whoever runs the test.
  const blocker = join(dir, 'blocker');
  await (await openStore({ databaseUrl: null, dataDir: blocker })).close();
  const dataDir = join(blocker, SQLITE_FILE_NAME, 'sub');
  await assert.rejects(openStore({ databaseUrl: null, dataDir }), {
    name: 'StorageError',
    code: 'ERR_STORAGE_UNAVAILABLE',
    message: `cannot create the data directory ${dataDir}`,
  });
});
