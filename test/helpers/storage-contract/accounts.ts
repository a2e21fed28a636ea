/**
 * Contract: grants follow the account (DESIGN.md "Grants follow the account"). An account's
 * generation is 0 until its name is removed or registered, then one more each time;
 * revokeAccount revokes every grant of the user with the cascade and ends their sessions in
 * one call; a grant made for a generation that is no longer current is stored revoked, also
 * when it races with the revocation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codeRecord, deviceRecord, grantRecord, newUser, T0, tokenRecord } from '../storage-records.js';
import { race, storeFor, type Suite } from './types.js';

export function accountsContract(suite: Suite): void {
  const { name } = suite;

  test(`${name}: an account's generation is 0, moves on by one with each renewal, per host and user`, async (t) => {
    const store = await storeFor(t, suite);
    const user = newUser();
    assert.equal(await store.accountGeneration('example.com', user), 0);
    assert.deepEqual(await store.revokeAccount('example.com', user, T0, false), { revoked: 0, generation: 0 });
    assert.equal(await store.accountGeneration('example.com', user), 0, 'a password change keeps the generation');
    assert.deepEqual(await store.revokeAccount('example.com', user, T0 + 1, true), { revoked: 0, generation: 1 });
    assert.deepEqual(await store.revokeAccount('example.com', user, T0 + 2, true), { revoked: 0, generation: 2 });
    assert.equal(await store.accountGeneration('example.com', user), 2);
    assert.equal(await store.accountGeneration('other.example', user), 0);
    assert.equal(await store.accountGeneration('example.com', newUser()), 0);
  });

  test(`${name}: revokeAccount revokes every grant of the user with what it issued, and ends their sessions`, async (t) => {
    const store = await storeFor(t, suite);
    const user = newUser();
    const one = grantRecord({ user });
    const two = grantRecord({ user });
    const bystander = grantRecord();
    for (const g of [one, two, bystander]) await store.createGrant(g);
    const access = tokenRecord(one.id, { kind: 'access' });
    const refresh = tokenRecord(two.id);
    const other = tokenRecord(bystander.id, { kind: 'access' });
    for (const tk of [access, refresh, other]) await store.saveToken(tk);
    const code = codeRecord(one);
    await store.saveCode(code);
    const device = deviceRecord();
    await store.saveDevice(device);
    assert.equal(await store.decideDevice(device.deviceHash, { approved: true, grantId: two.id }), true);

    assert.deepEqual(await store.revokeAccount('example.com', user, T0 + 10, true), { revoked: 2, generation: 1 });

    assert.equal((await store.findToken(access.hash))?.token.revokedAt, T0 + 10);
    assert.equal((await store.findToken(refresh.hash))?.grant.revokedAt, T0 + 10);
    assert.equal((await store.rotateRefreshToken(refresh.hash, tokenRecord(two.id), T0 + 11)).status, 'revoked');
    assert.equal((await store.consumeCode(code.hash, T0 + 11)).status, 'revoked');
    assert.equal(await store.consumeDevice(device.deviceHash), false);
    assert.equal((await store.findDevice(device.deviceHash))?.status, 'denied');
    assert.deepEqual(await store.listGrants('example.com', user), []);
    assert.equal(await store.sessionsNotBefore('example.com', user), T0 + 10);
    // Another user keeps everything.
    assert.deepEqual(await store.findToken(other.hash), { token: other, grant: bystander });
    assert.equal(await store.sessionsNotBefore('example.com', bystander.user), 0);
  });

  test(`${name}: a grant records its generation; one made for an ended generation is stored revoked`, async (t) => {
    const store = await storeFor(t, suite);
    const user = newUser();
    const before = grantRecord({ user });
    await store.createGrant(before);
    assert.equal((await store.getGrant(before.id))?.generation, 0);
    await store.revokeAccount('example.com', user, T0 + 5, true);

    // Made for generation 0 (the user signed in before the name changed hands): born revoked.
    const stale = grantRecord({ user, createdAt: T0 + 6 });
    await store.createGrant(stale);
    assert.deepEqual(await store.getGrant(stale.id), { ...stale, revokedAt: T0 + 6 });
    const token = tokenRecord(stale.id, { kind: 'access' });
    await store.saveToken(token);
    assert.equal((await store.findToken(token.hash))?.grant.revokedAt, T0 + 6);

    // Made for the current generation: live, and it reads back with its generation.
    const fresh = grantRecord({ user, generation: 1 });
    await store.createGrant(fresh);
    assert.deepEqual(await store.getGrant(fresh.id), fresh);
    const code = codeRecord(fresh);
    await store.saveCode(code);
    assert.deepEqual(await store.findCodeWithGrant(code.hash), { code, grant: fresh });
    assert.deepEqual(await store.listGrants('example.com', user), [fresh]);
  });

  test(`${name}: a grant made while its account is renewed never survives live`, async (t) => {
    const store = await storeFor(t, suite);
    const users = Array.from({ length: 8 }, () => newUser());
    const grants = users.map((user) => grantRecord({ user }));
    // Each user: one grant for generation 0 and one renewal, all at once.
    await race<unknown>(users.length * 2, (i) =>
      i % 2 === 0 ? store.createGrant(grants[i / 2]!) : store.revokeAccount('example.com', users[(i - 1) / 2]!, T0 + 1, true),
    );
    for (const g of grants) {
      const stored = await store.getGrant(g.id);
      assert.notEqual(stored?.revokedAt ?? null, null, `grant of ${g.user} survived its account's renewal`);
      assert.equal(await store.accountGeneration('example.com', g.user), 1);
    }
  });
}
