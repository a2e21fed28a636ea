/**
 * The storage contract against PostgreSQL, in a schema of its own, plus what is particular to
 * PostgreSQL: migrations under concurrent starts, a newer schema refused, failures mapped to
 * StorageError codes. Needs the server at PG_URL (test/helpers/postgres.ts); fails without it.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test, type TestContext } from 'node:test';
import pg from 'pg';
import { openStore } from '../../src/storage/index.js';
import { applyPostgresMigrations } from '../../src/storage/migrations/apply-postgres.js';
import { POSTGRES_MIGRATIONS } from '../../src/storage/migrations/postgres.js';
import { SQLITE_MIGRATIONS } from '../../src/storage/migrations/sqlite.js';
import { storageCodeOfSqlState } from '../../src/storage/postgres-errors.js';
import { openPostgresStore, PostgresStore } from '../../src/storage/postgres.js';
import { storeContract } from '../helpers/storage-contract.js';
import { createTestSchema, urlWithSchema } from '../helpers/postgres.js';
import { codeRecord, grantRecord, T0, tokenRecord } from '../helpers/storage-records.js';
import type { CodeRecord, OAuthStore, TokenRecord } from '../../src/storage/port.js';

const db = await createTestSchema();
after(() => db.drop());

// Every open() reaches the same schema, like instances of a fleet sharing one database.
storeContract('postgres', () => openPostgresStore(db.url), { persistent: true });

/** A second fresh schema for a test that needs an empty database; dropped after the test. */
async function freshSchema(t: { after: (fn: () => Promise<void>) => void }): Promise<string> {
  const schema = `${db.schema}_${Math.random().toString(36).slice(2, 8)}`;
  await db.admin(`CREATE SCHEMA ${schema}`);
  t.after(async () => {
    await db.admin(`DROP SCHEMA IF EXISTS ${schema} CASCADE`);
  });
  return schema;
}

test('postgres: the migrations use the same version numbers and names as SQLite', () => {
  assert.deepEqual(
    POSTGRES_MIGRATIONS.map((m) => [m.version, m.name]),
    SQLITE_MIGRATIONS.map((m) => [m.version, m.name]),
  );
});

test('postgres: instances starting together on an empty schema migrate it once, and all open', async (t) => {
  const schema = await freshSchema(t);
  const stores = await Promise.all(Array.from({ length: 8 }, () => openPostgresStore(urlWithSchema(schema))));
  t.after(() => Promise.all(stores.map((s) => s.close())));
  for (const s of stores) assert.equal(s.schemaVersion, POSTGRES_MIGRATIONS.length);
  const { rows } = await db.admin<{ version: number; name: string }>(`SELECT version, name FROM ${schema}.schema_migrations ORDER BY version`);
  assert.deepEqual(rows.map((r) => [r.version, r.name]), POSTGRES_MIGRATIONS.map((m) => [m.version, m.name]));
  // Reopening applies nothing more.
  const again = await openPostgresStore(urlWithSchema(schema));
  t.after(() => again.close());
  assert.equal((await db.admin(`SELECT * FROM ${schema}.schema_migrations`)).rowCount, POSTGRES_MIGRATIONS.length);
});

test('postgres: a schema written by a newer Gatehouse is refused and left untouched', async (t) => {
  const schema = await freshSchema(t);
  await (await openPostgresStore(urlWithSchema(schema))).close();
  const newer = POSTGRES_MIGRATIONS.length + 1;
  await db.admin(`INSERT INTO ${schema}.schema_migrations (version, name, applied_at) VALUES ($1, 'future', 0)`, [newer]);
  await assert.rejects(openPostgresStore(urlWithSchema(schema)), (err: Error & { code?: string }) => {
    assert.equal(err.name, 'StorageError');
    assert.equal(err.code, 'ERR_STORAGE_SCHEMA_TOO_NEW');
    assert.match(err.message, new RegExp(`schema version ${newer} but this version of Gatehouse knows only up to ${newer - 1}`));
    return true;
  });
  assert.equal((await db.admin(`SELECT * FROM ${schema}.schema_migrations`)).rowCount, newer);
});

test('postgres: a failing migration is rolled back whole, with its version', async (t) => {
  const schema = await freshSchema(t);
  const client = new pg.Client({ connectionString: urlWithSchema(schema) });
  await client.connect();
  t.after(() => client.end());
  const broken = [...POSTGRES_MIGRATIONS, { version: POSTGRES_MIGRATIONS.length + 1, name: 'broken', sql: 'CREATE TABLE half_done (x int); SELECT no_such_function()' }];
  await assert.rejects(applyPostgresMigrations(client, broken), { name: 'StorageError', code: 'ERR_STORAGE_MIGRATION_FAILED' });
  // Even migration 1, which worked, was rolled back with it: nothing exists.
  const { rows } = await client.query<{ n: number }>(`SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = $1`, [schema]);
  assert.equal(rows[0]?.n, 0);
  assert.deepEqual(await applyPostgresMigrations(client, POSTGRES_MIGRATIONS), { from: 0, to: POSTGRES_MIGRATIONS.length });
});

test('postgres: an unreachable server is ERR_STORAGE_UNAVAILABLE, and the password is never echoed', async () => {
  await assert.rejects(openPostgresStore('postgres://gatehouse:hunter2@127.0.0.1:1/gatehouse', { connectionTimeoutMs: 2000 }), (err: Error & { code?: string; temporary?: boolean }) => {
    assert.equal(err.name, 'StorageError');
    assert.equal(err.code, 'ERR_STORAGE_UNAVAILABLE');
    assert.equal(err.temporary, true);
    assert.doesNotMatch(err.message, /hunter2/);
    assert.match(err.message, /cannot open the PostgreSQL database at 127\.0\.0\.1:1\/gatehouse/);
    return true;
  });
});

/**
 * A stored code whose row lock another session holds, as a stuck instance would, and an
 * access token for its grant (the redemption the token endpoint makes).
 */
async function lockedCode(t: TestContext, store: OAuthStore): Promise<{ code: CodeRecord; token: () => TokenRecord; locker: pg.Client }> {
  const grant = grantRecord();
  await store.createGrant(grant);
  const code = codeRecord(grant);
  await store.saveCode(code);
  const locker = new pg.Client({ connectionString: db.url });
  await locker.connect();
  t.after(() => locker.end());
  await locker.query('BEGIN');
  await locker.query('SELECT 1 FROM codes WHERE hash = $1 FOR UPDATE', [code.hash]);
  return { code, token: () => tokenRecord(grant.id, { kind: 'access' }), locker };
}

test('postgres: a statement held past the statement timeout fails as unavailable, and the store goes on', async (t) => {
  const store = await openPostgresStore(db.url, { statementTimeoutMs: 200 });
  t.after(() => store.close());
  const { code, token, locker } = await lockedCode(t, store);
  await assert.rejects(store.redeemCode(code.hash, T0 + 1, [token()]), { name: 'StorageError', code: 'ERR_STORAGE_UNAVAILABLE' });
  await locker.query('ROLLBACK');
  assert.equal((await store.redeemCode(code.hash, T0 + 2, [token()])).status, 'ok');
});

test('postgres: a connection killed mid-transaction fails the call as unavailable; the next call gets a new connection', async (t) => {
  const store = await openPostgresStore(db.url, { maxConnections: 1 });
  t.after(() => store.close());
  const { code, token, locker } = await lockedCode(t, store);
  const lockerPid = (await locker.query<{ pid: number }>('SELECT pg_backend_pid() AS pid')).rows[0]!.pid;

  // Settled into a value at once, so the rejection is never unhandled while the loop waits.
  const redeem = store.redeemCode(code.hash, T0 + 1, [token()]).then(
    (r) => ({ ok: true as const, r }),
    (err: unknown) => ({ ok: false as const, err }),
  );
  // Wait until the store's connection is blocked behind the lock, then kill it.
  let killed = 0;
  for (let i = 0; i < 1500 && killed === 0; i++) {
    await new Promise((r) => setTimeout(r, 20));
    killed = (await db.admin('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE $1 = ANY(pg_blocking_pids(pid))', [lockerPid])).rowCount ?? 0;
  }
  assert.equal(killed, 1);
  const outcome = await redeem;
  assert.equal(outcome.ok, false);
  const err = (outcome as { err: Error & { code?: string; temporary?: boolean } }).err;
  assert.equal(err.name, 'StorageError');
  assert.equal(err.code, 'ERR_STORAGE_UNAVAILABLE');
  assert.equal(err.temporary, true);
  await locker.query('ROLLBACK');
  // Nothing was consumed by the killed statement, and the pool replaced its connection.
  assert.equal((await store.redeemCode(code.hash, T0 + 2, [token()])).status, 'ok');
});

test('postgres: times are BIGINT milliseconds read back as numbers', async (t) => {
  const store = await openPostgresStore(db.url);
  t.after(() => store.close());
  const far = 8_000_000_000_000; // year 2223: far past 2^32 ms, far below 2^53
  const grant = grantRecord({ createdAt: far, lastUsedAt: far, authTime: far });
  await store.createGrant(grant);
  assert.deepEqual(await store.getGrant(grant.id), grant);
  assert.equal(typeof (await store.getGrant(grant.id))?.createdAt, 'number');
});

test('postgres: SQLSTATEs map to storage codes', () => {
  assert.equal(storageCodeOfSqlState('23505'), 'ERR_STORAGE_CONFLICT');
  assert.equal(storageCodeOfSqlState('23503'), 'ERR_STORAGE_UNKNOWN_GRANT');
  assert.equal(storageCodeOfSqlState('08006'), 'ERR_STORAGE_UNAVAILABLE');
  assert.equal(storageCodeOfSqlState('57P01'), 'ERR_STORAGE_UNAVAILABLE');
  assert.equal(storageCodeOfSqlState('57014'), 'ERR_STORAGE_UNAVAILABLE');
  assert.equal(storageCodeOfSqlState('53300'), 'ERR_STORAGE_UNAVAILABLE');
  assert.equal(storageCodeOfSqlState('XX001'), 'ERR_STORAGE_CORRUPT');
  assert.equal(storageCodeOfSqlState('42P01'), 'ERR_STORAGE_INTERNAL');
});

test('postgres: openStore opens PostgreSQL for postgres:// and postgresql:// URLs, without a data directory', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gatehouse-pg-open-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const dataDir = join(dir, 'unused');
  for (const url of [db.url, db.url.replace(/^postgres:/, 'postgresql:')]) {
    const store = await openStore({ databaseUrl: url, dataDir });
    t.after(() => store.close());
    assert.ok(store instanceof PostgresStore);
    const grant = grantRecord();
    await store.createGrant(grant);
    assert.deepEqual(await store.getGrant(grant.id), grant);
  }
  assert.equal(existsSync(dataDir), false);
});
