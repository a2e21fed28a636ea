/** Contract: grants are stored whole, listed per user by last use, and touched forward only. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grantRecord, newUser, T0 } from '../storage-records.js';
import { storeFor, type Suite } from './types.js';

export function grantsContract(suite: Suite): void {
  const { name } = suite;

  test(`${name}: createGrant then getGrant returns the grant as stored; unknown ids are null`, async (t) => {
    const store = await storeFor(t, suite);
    // A realistic client_id is a ~2 KB JWT (DESIGN.md, stateless registration).
    const grant = grantRecord({ clientId: `eyJ${'a'.repeat(2000)}`, scope: 'openid xmpp' });
    await store.createGrant(grant);
    assert.deepEqual(await store.getGrant(grant.id), grant);
    assert.equal(await store.getGrant('no-such-grant'), null);
  });

  test(`${name}: createGrant refuses a second grant with the same id`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    await assert.rejects(store.createGrant({ ...grant, user: newUser() }), { name: 'StorageError', code: 'ERR_STORAGE_CONFLICT' });
    assert.deepEqual(await store.getGrant(grant.id), grant);
  });

  test(`${name}: listGrants returns the user's live grants on that host, most recently used first`, async (t) => {
    const store = await storeFor(t, suite);
    const user = newUser();
    const old = grantRecord({ user, lastUsedAt: T0 + 1 });
    const recent = grantRecord({ user, lastUsedAt: T0 + 3 });
    const middle = grantRecord({ user, lastUsedAt: T0 + 2 });
    const revoked = grantRecord({ user, lastUsedAt: T0 + 4 });
    const otherHost = grantRecord({ user, host: 'other.example' });
    const otherUser = grantRecord();
    for (const g of [old, recent, middle, revoked, otherHost, otherUser]) await store.createGrant(g);
    await store.revokeGrant(revoked.id, T0 + 5);

    assert.deepEqual(await store.listGrants('example.com', user), [recent, middle, old]);
    assert.deepEqual(await store.listGrants('other.example', user), [otherHost]);
    assert.deepEqual(await store.listGrants('example.com', newUser()), []);
  });

  test(`${name}: touchGrant moves a grant up the list and never moves last use backwards`, async (t) => {
    const store = await storeFor(t, suite);
    const user = newUser();
    const a = grantRecord({ user, lastUsedAt: T0 + 1 });
    const b = grantRecord({ user, lastUsedAt: T0 + 2 });
    await store.createGrant(a);
    await store.createGrant(b);

    await store.touchGrant(a.id, T0 + 10);
    assert.deepEqual((await store.listGrants('example.com', user)).map((g) => g.id), [a.id, b.id]);
    assert.equal((await store.getGrant(a.id))?.lastUsedAt, T0 + 10);

    // A slower request that started earlier finishes later: last use stays the newest.
    await store.touchGrant(a.id, T0 + 5);
    assert.equal((await store.getGrant(a.id))?.lastUsedAt, T0 + 10);

    await store.touchGrant('no-such-grant', T0 + 10);
  });
}
