/**
 * Contract: the session cut-off of a user (a password change ends their other browsers'
 * sessions) is per host and user, never moves back, and is shared by every instance.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newUser, T0 } from '../storage-records.js';
import { race, storeFor, type Suite } from './types.js';

export function sessionsContract(suite: Suite): void {
  const { name } = suite;

  test(`${name}: a user's session cut-off is 0 until set, then the latest one set`, async (t) => {
    const store = await storeFor(t, suite);
    const user = newUser();
    assert.equal(await store.sessionsNotBefore('example.com', user), 0);
    await store.endSessions('example.com', user, T0 + 5000);
    assert.equal(await store.sessionsNotBefore('example.com', user), T0 + 5000);
    // A late, out-of-order call never reopens sessions it had ended.
    await store.endSessions('example.com', user, T0 + 1000);
    assert.equal(await store.sessionsNotBefore('example.com', user), T0 + 5000);
    await store.endSessions('example.com', user, T0 + 9000);
    assert.equal(await store.sessionsNotBefore('example.com', user), T0 + 9000);
    // Other hosts and users are not touched.
    assert.equal(await store.sessionsNotBefore('other.example', user), 0);
    assert.equal(await store.sessionsNotBefore('example.com', newUser()), 0);
  });

  test(`${name}: concurrent cut-offs keep the latest`, async (t) => {
    const store = await storeFor(t, suite);
    const user = newUser();
    await race(10, (i) => store.endSessions('example.com', user, T0 + i * 1000));
    assert.equal(await store.sessionsNotBefore('example.com', user), T0 + 9000);
  });
}
