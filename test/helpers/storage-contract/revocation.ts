/**
 * Contract: revoking a grant revokes what it issued (DESIGN.md: a replayed code or a reused
 * refresh token revokes the grant; a password change revokes every grant of the user).
 * Rows are kept, so that a later replay is still told apart from an unknown value:
 * - its tokens are revoked (findToken shows it) and can no longer be rotated ('revoked');
 * - its unused codes can no longer be consumed ('revoked', with the record);
 * - a code consumed before the revocation still reads 'reused' (the replay signal);
 * - other grants are untouched.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codeRecord, grantRecord, newUser, T0, tokenRecord } from '../storage-records.js';
import { storeFor, type Suite } from './types.js';

export function revocationContract(suite: Suite): void {
  const { name } = suite;

  test(`${name}: revokeGrant cascades to the grant's tokens and unused codes, and to nothing else`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    const bystander = grantRecord({ user: grant.user });
    await store.createGrant(grant);
    await store.createGrant(bystander);
    const access = tokenRecord(grant.id, { kind: 'access' });
    const refresh = tokenRecord(grant.id);
    const used = codeRecord(grant);
    const unused = codeRecord(grant);
    const otherToken = tokenRecord(bystander.id);
    const otherCode = codeRecord(bystander);
    for (const tk of [access, refresh, otherToken]) await store.saveToken(tk);
    for (const c of [used, unused, otherCode]) await store.saveCode(c);
    assert.equal((await store.consumeCode(used.hash, T0 + 1)).status, 'ok');

    await store.revokeGrant(grant.id, T0 + 2);

    const revokedGrant = { ...grant, revokedAt: T0 + 2 };
    assert.deepEqual(await store.getGrant(grant.id), revokedGrant);
    assert.deepEqual(await store.findToken(access.hash), { token: { ...access, revokedAt: T0 + 2 }, grant: revokedGrant });
    assert.deepEqual(await store.findToken(refresh.hash), { token: { ...refresh, revokedAt: T0 + 2 }, grant: revokedGrant });
    assert.deepEqual(await store.rotateRefreshToken(refresh.hash, tokenRecord(grant.id), T0 + 3), {
      status: 'revoked',
      record: { ...refresh, revokedAt: T0 + 2 },
    });
    // Unused: refused as revoked, every time. Used before: still a replay.
    assert.deepEqual(await store.consumeCode(unused.hash, T0 + 3), { status: 'revoked', record: unused });
    assert.deepEqual(await store.consumeCode(unused.hash, T0 + 4), { status: 'revoked', record: unused });
    assert.deepEqual(await store.consumeCode(used.hash, T0 + 3), { status: 'reused', record: { ...used, consumedAt: T0 + 1 } });

    assert.deepEqual(await store.getGrant(bystander.id), bystander);
    assert.deepEqual(await store.findToken(otherToken.hash), { token: otherToken, grant: bystander });
    assert.equal((await store.consumeCode(otherCode.hash, T0 + 3)).status, 'ok');
  });

  test(`${name}: a reused refresh token stays 'reused' after the grant it revoked`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const first = tokenRecord(grant.id);
    await store.saveToken(first);
    const second = tokenRecord(grant.id);
    assert.equal((await store.rotateRefreshToken(first.hash, second, T0 + 1)).status, 'ok');

    // What the token endpoint does on reuse (RFC 9700 §4.14.2): revoke the whole grant.
    assert.equal((await store.rotateRefreshToken(first.hash, tokenRecord(grant.id), T0 + 2)).status, 'reused');
    await store.revokeGrant(grant.id, T0 + 2);

    assert.equal((await store.rotateRefreshToken(first.hash, tokenRecord(grant.id), T0 + 3)).status, 'reused');
    assert.equal((await store.rotateRefreshToken(second.hash, tokenRecord(grant.id), T0 + 3)).status, 'revoked');
  });

  test(`${name}: revokeGrant keeps the first revocation time and still catches late tokens and codes`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    await store.revokeGrant(grant.id, T0 + 1);
    // A request that raced with the revocation saves a token and a code afterwards.
    const late = tokenRecord(grant.id);
    const lateCode = codeRecord(grant);
    await store.saveToken(late);
    await store.saveCode(lateCode);
    // The code is unusable at once: its grant is revoked.
    assert.deepEqual(await store.consumeCode(lateCode.hash, T0 + 2), { status: 'revoked', record: lateCode });
    assert.equal((await store.rotateRefreshToken(late.hash, tokenRecord(grant.id), T0 + 2)).status, 'revoked');

    await store.revokeGrant(grant.id, T0 + 3);
    assert.equal((await store.getGrant(grant.id))?.revokedAt, T0 + 1);
    assert.equal((await store.findToken(late.hash))?.token.revokedAt, T0 + 3);
    await store.revokeGrant('no-such-grant', T0 + 3);
  });

  test(`${name}: revokeUserGrants revokes every grant of one user on one host and counts them`, async (t) => {
    const store = await storeFor(t, suite);
    const user = newUser();
    const a = grantRecord({ user });
    const b = grantRecord({ user });
    const already = grantRecord({ user });
    const otherHost = grantRecord({ user, host: 'other.example' });
    const otherUser = grantRecord();
    for (const g of [a, b, already, otherHost, otherUser]) await store.createGrant(g);
    await store.revokeGrant(already.id, T0);
    const token = tokenRecord(a.id);
    const code = codeRecord(b);
    await store.saveToken(token);
    await store.saveCode(code);

    assert.equal(await store.revokeUserGrants('example.com', user, T0 + 1), 2);
    assert.equal(await store.revokeUserGrants('example.com', user, T0 + 2), 0);
    assert.equal(await store.revokeUserGrants('example.com', newUser(), T0 + 2), 0);

    assert.deepEqual(await store.listGrants('example.com', user), []);
    assert.equal((await store.getGrant(already.id))?.revokedAt, T0);
    assert.equal((await store.findToken(token.hash))?.token.revokedAt, T0 + 1);
    assert.equal((await store.consumeCode(code.hash, T0 + 2)).status, 'revoked');
    assert.deepEqual(await store.listGrants('other.example', user), [otherHost]);
    assert.deepEqual(await store.getGrant(otherUser.id), otherUser);
  });
}
