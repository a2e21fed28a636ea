/**
 * StoreThrottle (src/accounts/throttle.ts): the failure counters kept in the shared database,
 * against real stores: a private in-memory SQLite store per test, and two connections to one
 * PostgreSQL schema for instances of a fleet that count the same failures. Only Date moves by
 * hand (the throttle passes its `now` to the store); nothing sleeps.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { StoreThrottle, type Backoff } from '../../src/accounts/throttle.js';
import { openPostgresStore } from '../../src/storage/postgres.js';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';
import { createTestSchema } from '../helpers/postgres.js';

const T0 = 1_000_000;
const BACKOFF: Backoff = { firstMs: 1000, maxMs: 8000 };

/** A private in-memory SQLite store, closed after the test; Date mocked from T0. */
async function sqlite(t: TestContext) {
  const store = await openSqliteStore(':memory:');
  t.after(() => store.close());
  t.mock.timers.enable({ apis: ['Date'], now: T0 });
  return store;
}

test('StoreThrottle with limit 0 is off: it never blocks, never counts, and never writes or clears the shared counters', async (t) => {
  const store = await sqlite(t);
  const off = new StoreThrottle(store, 0, 60_000, 'user:*:', BACKOFF);
  for (let i = 0; i < 5; i++) await off.fail('alice');
  assert.equal(await store.failuresOf('user:*:alice', Date.now()), 0, 'nothing written');
  assert.equal(await off.blockedFor('alice'), 0);
  assert.equal(await off.failures('alice'), 0);
  // Counts left under the same prefix by a throttle that is on (before a reload turned it off):
  // the one that is off neither reports them nor clears them.
  const on = new StoreThrottle(store, 3, 60_000, 'user:*:');
  for (let i = 0; i < 3; i++) await on.fail('alice');
  assert.equal(await on.blockedFor('alice'), 60_000, 'positive control: the same counts block a throttle that is on');
  assert.equal(await off.blockedFor('alice'), 0);
  assert.equal(await off.failures('alice'), 0);
  await off.succeed('alice');
  assert.equal(await store.failuresOf('user:*:alice', Date.now()), 3, 'not cleared');
  assert.equal(await on.failures('alice'), 3);
});

test('StoreThrottle without a backoff: free below the limit; at it, blocked for the whole window until the window ends', async (t) => {
  const store = await sqlite(t);
  const th = new StoreThrottle(store, 3, 60_000, 'user:*:');
  for (let i = 0; i < 3; i++) {
    assert.equal(await th.failures('k'), i);
    assert.equal(await th.blockedFor('k'), 0, `${i} failures: below the limit`);
    await th.fail('k');
  }
  assert.equal(await th.failures('k'), 3);
  assert.equal(await store.failuresOf('user:*:k', Date.now()), 3, 'counted under the prefixed key');
  assert.equal(await th.blockedFor('k'), 60_000, 'at the limit: the whole window');
  t.mock.timers.tick(59_999);
  // The store does not say when the window began: the wait reported is still the whole window.
  assert.equal(await th.blockedFor('k'), 60_000);
  await th.fail('k');
  assert.equal(await th.failures('k'), 4, 'past the limit, in the same window');
  assert.equal(await th.blockedFor('k'), 60_000);
  t.mock.timers.tick(1);
  assert.equal(await th.blockedFor('k'), 0, 'the window (from the first failure) is over');
  assert.equal(await th.failures('k'), 0);
  await th.fail('k');
  assert.equal(await th.failures('k'), 1, 'a new window');
  assert.equal(await th.blockedFor('other'), 0);
  assert.equal(await th.failures('other'), 0);
});

test('StoreThrottle.succeed clears the shared count', async (t) => {
  const store = await sqlite(t);
  const th = new StoreThrottle(store, 2, 60_000, 'user:*:');
  const backoff = new StoreThrottle(store, 2, 60_000, 'address:*:', BACKOFF);
  for (let i = 0; i < 2; i++) {
    await th.fail('k');
    await backoff.fail('k');
  }
  assert.equal(await th.blockedFor('k'), 60_000);
  assert.equal(await backoff.blockedFor('k'), 1000);
  await th.succeed('k');
  assert.equal(await th.blockedFor('k'), 0);
  assert.equal(await th.failures('k'), 0);
  assert.equal(await store.failuresOf('user:*:k', Date.now()), 0);
  assert.equal(await backoff.blockedFor('k'), 1000, 'another prefix keeps its count');
  await backoff.succeed('k');
  assert.equal(await backoff.blockedFor('k'), 0);
  assert.equal(await store.failuresOf('address:*:k', Date.now()), 0);
});

test('StoreThrottle: two throttles with different prefixes on one store never share counts', async (t) => {
  const store = await sqlite(t);
  const users = new StoreThrottle(store, 3, 60_000, 'user:*:');
  const addresses = new StoreThrottle(store, 3, 60_000, 'address:*:');
  for (let i = 0; i < 3; i++) await users.fail('192.0.2.1');
  assert.equal(await users.failures('192.0.2.1'), 3);
  assert.equal(await users.blockedFor('192.0.2.1'), 60_000);
  assert.equal(await addresses.failures('192.0.2.1'), 0);
  assert.equal(await addresses.blockedFor('192.0.2.1'), 0);
  assert.equal(await store.failuresOf('user:*:192.0.2.1', Date.now()), 3);
  assert.equal(await store.failuresOf('192.0.2.1', Date.now()), 0, 'never the bare key');
  await addresses.fail('192.0.2.1');
  assert.equal(await addresses.failures('192.0.2.1'), 1);
  assert.equal(await users.failures('192.0.2.1'), 3);
  await addresses.succeed('192.0.2.1');
  assert.equal(await users.failures('192.0.2.1'), 3, "the other prefix's count is not cleared");
  assert.equal(await addresses.failures('192.0.2.1'), 0);
});

test("StoreThrottle with a backoff: the delay runs from this instance's last failure; a count that grew elsewhere waits the whole delay", async (t) => {
  const store = await sqlite(t);
  // Two instances on one database: the count is shared, the time of the last failure is not.
  const a = new StoreThrottle(store, 3, 300_000, 'user:*:', BACKOFF);
  const b = new StoreThrottle(store, 3, 300_000, 'user:*:', BACKOFF);
  for (let i = 0; i < 3; i++) await a.fail('k');
  await a.fail('someone-else');
  assert.equal(await a.blockedFor('k'), 1000, 'at the limit: 1 s after the last failure');
  t.mock.timers.tick(400);
  assert.equal(await a.blockedFor('k'), 600, 'a counted it: the rest of the delay');
  assert.equal(await b.blockedFor('k'), 1000, 'b did not: the whole delay from now');
  t.mock.timers.tick(600);
  assert.equal(await a.blockedFor('k'), 0, 'the delay is over, long before the window');
  assert.equal(await b.blockedFor('k'), 1000);

  await b.fail('k'); // the fourth, counted by b
  assert.equal(await b.blockedFor('k'), 2000, 'doubled');
  t.mock.timers.tick(500);
  assert.equal(await b.blockedFor('k'), 1500);
  assert.equal(await a.blockedFor('k'), 2000, "the count grew since a's last failure: a waits the whole current delay, longer, never shorter");

  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    await a.fail('k');
    waits.push(await a.blockedFor('k'));
  }
  assert.deepEqual(waits, [4000, 8000, 8000, 8000], 'doubling up to the cap');
  t.mock.timers.tick(8000);
  assert.equal(await a.blockedFor('k'), 0);
  assert.equal(await a.failures('k'), 8);

  await b.succeed('k');
  assert.equal(await a.failures('k'), 0);
  assert.equal(await a.blockedFor('k'), 0);
  assert.equal(await b.blockedFor('k'), 0);
});

test('StoreThrottle forgets the last failures it saw beyond 100 000 keys, which only lengthens waits', async (t) => {
  const store = await sqlite(t);
  const th = new StoreThrottle(store, 1, 300_000, 'user:*:', BACKOFF);
  await th.fail('first');
  t.mock.timers.tick(500);
  assert.equal(await th.blockedFor('first'), 500);
  for (let i = 1; i < 100_000; i++) await th.fail(`k${i}`);
  assert.equal(await th.blockedFor('first'), 500, '100 000 keys: all remembered');
  assert.equal(await th.blockedFor('k99999'), 1000);
  await th.fail('one-more');
  assert.equal(await th.blockedFor('first'), 1000, 'forgotten: the whole delay from now');
  assert.equal(await th.blockedFor('k99999'), 1000);
  t.mock.timers.tick(300);
  assert.equal(await th.blockedFor('one-more'), 700, 'the newest failure is remembered');
  assert.equal(await th.blockedFor('first'), 1000);
});

test('StoreThrottle on PostgreSQL: two instances with their own connections count the same failures', async (t) => {
  const db = await createTestSchema();
  const stores: { close(): Promise<void> }[] = [];
  t.after(async () => {
    try {
      await Promise.all(stores.map((s) => s.close()));
    } finally {
      await db.drop();
    }
  });
  const one = await openPostgresStore(db.url);
  stores.push(one);
  const two = await openPostgresStore(db.url);
  stores.push(two);
  t.mock.timers.enable({ apis: ['Date'], now: T0 });

  const a = new StoreThrottle(one, 3, 60_000, 'user:*:', BACKOFF);
  const b = new StoreThrottle(two, 3, 60_000, 'user:*:', BACKOFF);
  const plainA = new StoreThrottle(one, 3, 60_000, 'address:*:');
  const plainB = new StoreThrottle(two, 3, 60_000, 'address:*:');
  await a.fail('alice');
  await b.fail('alice');
  assert.equal(await a.failures('alice'), 2);
  assert.equal(await b.blockedFor('alice'), 0, 'below the limit on both');
  t.mock.timers.tick(100);
  await b.fail('alice');
  assert.equal(await a.failures('alice'), 3);
  assert.equal(await b.failures('alice'), 3);
  t.mock.timers.tick(250);
  assert.equal(await b.blockedFor('alice'), 750, 'b counted the last failure');
  assert.equal(await a.blockedFor('alice'), 1000, 'a did not: the whole delay');

  // Spread over the two instances, the failures of one address still reach the limit.
  await plainA.fail('192.0.2.7');
  await plainB.fail('192.0.2.7');
  assert.equal(await plainA.blockedFor('192.0.2.7'), 0);
  await plainA.fail('192.0.2.7');
  assert.equal(await plainB.blockedFor('192.0.2.7'), 60_000);
  assert.equal(await plainA.blockedFor('192.0.2.7'), 60_000);
  assert.equal(await a.failures('192.0.2.7'), 0, 'another prefix');

  await a.succeed('alice');
  assert.equal(await b.failures('alice'), 0, 'a success on one instance clears the count for all');
  assert.equal(await b.blockedFor('alice'), 0);
  t.mock.timers.tick(60_000);
  assert.equal(await plainB.blockedFor('192.0.2.7'), 0, 'the window is over');
  assert.equal(await plainB.failures('192.0.2.7'), 0);
});
