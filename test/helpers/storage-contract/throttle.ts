/**
 * Contract: failure counters use a fixed window that starts at the first failure and ends
 * windowMs later; a failure after the end starts a new window at 1. Times are explicit.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { T0 } from '../storage-records.js';
import { race, storeFor, type Suite } from './types.js';

const WINDOW = 60_000;

export function throttleContract(suite: Suite): void {
  const { name } = suite;

  test(`${name}: hitFailure counts within the window and restarts at 1 once it has ended`, async (t) => {
    const store = await storeFor(t, suite);
    const key = `user:${randomUUID()}`;
    assert.equal(await store.failuresOf(key, T0), 0);
    assert.equal(await store.hitFailure(key, T0, WINDOW), 1);
    assert.equal(await store.hitFailure(key, T0 + 1000, WINDOW), 2);
    // The window is fixed: later failures do not extend it.
    assert.equal(await store.hitFailure(key, T0 + WINDOW - 1, WINDOW), 3);
    assert.equal(await store.failuresOf(key, T0 + WINDOW - 1), 3);
    // windowMs after the first failure, the window is over.
    assert.equal(await store.failuresOf(key, T0 + WINDOW), 0);
    assert.equal(await store.hitFailure(key, T0 + WINDOW, WINDOW), 1);
    assert.equal(await store.failuresOf(key, T0 + 2 * WINDOW - 1), 1);
    assert.equal(await store.failuresOf(key, T0 + 2 * WINDOW), 0);
  });

  test(`${name}: throttle keys are independent, and clearFailures forgets one key`, async (t) => {
    const store = await storeFor(t, suite);
    const a = `user:${randomUUID()}`;
    const b = `addr:${randomUUID()}`;
    await store.hitFailure(a, T0, WINDOW);
    await store.hitFailure(a, T0, WINDOW);
    await store.hitFailure(b, T0, WINDOW);

    await store.clearFailures(a);
    assert.equal(await store.failuresOf(a, T0), 0);
    assert.equal(await store.failuresOf(b, T0), 1);
    assert.equal(await store.hitFailure(a, T0 + 1, WINDOW), 1);
    await store.clearFailures(`unknown:${randomUUID()}`);
  });

  test(`${name}: 20 concurrent failures of one key are all counted`, async (t) => {
    const store = await storeFor(t, suite);
    const key = `user:${randomUUID()}`;
    const counts = await race(20, (i) => store.hitFailure(key, T0 + i, WINDOW));
    assert.deepEqual([...counts].sort((x, y) => x - y), Array.from({ length: 20 }, (_, i) => i + 1));
    assert.equal(await store.failuresOf(key, T0 + 20), 20);
  });

  test(`${name}: hitFailure rejects a window that is not a positive integer`, async (t) => {
    const store = await storeFor(t, suite);
    for (const windowMs of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(store.hitFailure('k', T0, windowMs), {
        name: 'TypeError',
        message: `windowMs must be a positive integer, got ${windowMs}`,
      });
    }
  });
}
