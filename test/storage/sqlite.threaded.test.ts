/**
 * The SQLite store's writer thread (sqlite-threaded.ts): what it answers is on disk, closing
 * loses no accepted write, and the thread neither ends a program that waits for a write nor
 * keeps alive one that is done. The storage contract runs against it too (sqlite.test.ts).
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, test } from 'node:test';
import Database from 'better-sqlite3';
import { StorageError } from '../../src/storage/errors.js';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';
import { ThreadedSqliteStore } from '../../src/storage/sqlite-threaded.js';
import { codeRecord, grantRecord, T0, tokenRecord } from '../helpers/storage-records.js';

const dir = mkdtempSync(join(tmpdir(), 'gatehouse-sqlite-threaded-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Reads `sql` through a connection of its own, as another process would. */
function count(file: string, sql: string, ...params: unknown[]): number {
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare(sql).pluck().get(...params) as number) ?? 0;
  } finally {
    db.close();
  }
}

test('a file store writes on a thread, and an answered write is visible to any other connection', async (t) => {
  const file = join(dir, 'visible.sqlite');
  const store = await openSqliteStore(file);
  t.after(() => store.close());
  assert.ok(store instanceof ThreadedSqliteStore);
  const grant = grantRecord();
  await store.createGrant(grant);
  assert.equal(count(file, 'SELECT count(*) FROM grants WHERE id = ?', grant.id), 1);
  const code = codeRecord(grant);
  await store.saveCode(code);
  const r = await store.redeemCode(code.hash, T0 + 1, [tokenRecord(grant.id)]);
  assert.equal(r.status, 'ok');
  assert.equal(count(file, 'SELECT count(*) FROM codes WHERE hash = ? AND consumed_at IS NOT NULL', code.hash), 1);
  // And the main thread's own reads see it at once.
  assert.equal((await store.findCode(code.hash))?.consumedAt, T0 + 1);
});

test('closing answers and commits every write already accepted, then refuses new ones', async () => {
  const file = join(dir, 'close.sqlite');
  const store = await openSqliteStore(file);
  const grants = Array.from({ length: 40 }, () => grantRecord());
  // Not awaited: close() is called while they travel to the writer thread.
  const writes = grants.map((g) => store.createGrant(g));
  const closing = store.close();
  const outcomes = await Promise.allSettled(writes);
  await closing;
  assert.deepEqual(outcomes.map((o) => o.status), grants.map(() => 'fulfilled'));
  await assert.rejects(store.createGrant(grantRecord()), (err: unknown) => err instanceof StorageError && err.code === 'ERR_STORAGE_CLOSED');
  await assert.rejects(store.getGrant(grants[0]!.id), (err: unknown) => err instanceof StorageError && err.code === 'ERR_STORAGE_CLOSED');
  const again = await openSqliteStore(file);
  try {
    for (const g of grants) assert.deepEqual(await again.getGrant(g.id), g);
  } finally {
    await again.close();
  }
});

test('errors cross the thread with their type and code', async (t) => {
  const store = await openSqliteStore(join(dir, 'errors.sqlite'));
  t.after(() => store.close());
  const grant = grantRecord();
  await store.createGrant(grant);
  await assert.rejects(store.createGrant(grant), (err: unknown) => err instanceof StorageError && err.code === 'ERR_STORAGE_CONFLICT');
  await assert.rejects(store.saveToken(tokenRecord('no-such-grant')), (err: unknown) => err instanceof StorageError && err.code === 'ERR_STORAGE_UNKNOWN_GRANT');
  await assert.rejects(store.hitFailure('k', T0, 0), TypeError);
  // What cannot cross to the thread is refused, and the store goes on.
  await assert.rejects(store.createGrant({ ...grantRecord(), scope: (() => 'x') as unknown as string }), TypeError);
  const next = grantRecord();
  await store.createGrant(next);
  assert.deepEqual(await store.getGrant(next.id), next);
});

test('when the writer thread dies, waiting writes fail as unavailable, never hang, and the next write starts a new thread', async (t) => {
  const store = await openSqliteStore(join(dir, 'crash.sqlite'));
  t.after(() => store.close());
  assert.ok(store instanceof ThreadedSqliteStore);
  const first = ThreadedSqliteStore.writerThread(store);
  assert.ok(first !== null);
  const grants = Array.from({ length: 20 }, () => grantRecord());
  const writes = grants.map((g) => store.createGrant(g));
  await first.terminate();
  const outcomes = await Promise.allSettled(writes);
  for (const o of outcomes) {
    if (o.status === 'rejected') assert.ok(o.reason instanceof StorageError && o.reason.code === 'ERR_STORAGE_UNAVAILABLE', String(o.reason));
  }
  // What was answered as written is there. A failed write's outcome is unknown, as when a
  // database connection drops after a commit: it may have been committed before the answer.
  for (const [i, o] of outcomes.entries()) {
    if (o.status === 'fulfilled') assert.deepEqual(await store.getGrant(grants[i]!.id), grants[i]);
  }
  const after = grantRecord();
  await store.createGrant(after);
  assert.deepEqual(await store.getGrant(after.id), after);
  const second = ThreadedSqliteStore.writerThread(store);
  assert.ok(second !== null && second !== first);
});

test('a program waiting for a write is not ended by the idle thread, and one that is done exits without closing the store', () => {
  const file = join(dir, 'unclosed.sqlite');
  const program = fileURLToPath(new URL('./fixtures/unclosed-store.js', import.meta.url));
  const r = spawnSync(process.execPath, [program, file], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.error, undefined, 'the program ended by itself');
  assert.equal(r.status, 0, r.stderr);
  const id = /^written (\S+)$/m.exec(r.stdout)?.[1];
  assert.ok(id !== undefined, `the write was answered before the exit: ${r.stdout}`);
  assert.equal(count(file, 'SELECT count(*) FROM grants WHERE id = ?', id), 1);
});
