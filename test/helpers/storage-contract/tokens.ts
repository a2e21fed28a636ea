/**
 * Contract: tokens are found by hash with their grant; refresh tokens rotate exactly once and a
 * reuse is reported (RFC 9700 §4.14.2), even when callers race.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { grantRecord, newHash, T0, tokenRecord } from '../storage-records.js';
import { count, race, storeFor, type Suite } from './types.js';

export function tokensContract(suite: Suite): void {
  const { name } = suite;

  test(`${name}: saveToken then findToken returns the token with its grant; unknown hashes are null`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const access = tokenRecord(grant.id, { kind: 'access', scope: 'xmpp', expiresAt: T0 + 3600_000 });
    const refresh = tokenRecord(grant.id);
    await store.saveToken(access);
    await store.saveToken(refresh);
    assert.deepEqual(await store.findToken(access.hash), { token: access, grant });
    assert.deepEqual(await store.findToken(refresh.hash), { token: refresh, grant });
    assert.equal(await store.findToken(newHash()), null);
  });

  test(`${name}: saveToken refuses a duplicate hash and a token of an unknown grant`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const token = tokenRecord(grant.id);
    await store.saveToken(token);
    await assert.rejects(store.saveToken(token), { name: 'StorageError', code: 'ERR_STORAGE_CONFLICT' });
    await assert.rejects(store.saveToken(tokenRecord('no-such-grant')), { name: 'StorageError', code: 'ERR_STORAGE_UNKNOWN_GRANT' });
  });

  test(`${name}: revokeToken marks one token revoked, keeps the first time, and ignores unknown hashes`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const token = tokenRecord(grant.id, { kind: 'access' });
    const sibling = tokenRecord(grant.id);
    await store.saveToken(token);
    await store.saveToken(sibling);

    await store.revokeToken(token.hash, T0 + 1);
    await store.revokeToken(token.hash, T0 + 2);
    // RFC 7009 §2.2: revoking an unknown token is not an error.
    await store.revokeToken(newHash(), T0 + 2);

    assert.equal((await store.findToken(token.hash))?.token.revokedAt, T0 + 1);
    assert.equal((await store.findToken(sibling.hash))?.token.revokedAt, null);
    assert.equal((await store.getGrant(grant.id))?.revokedAt, null);
  });

  test(`${name}: rotateRefreshToken without a successor spends the token and stores the access token with it; saveTokens stores several`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const first = tokenRecord(grant.id);
    await store.saveToken(first);
    const access = tokenRecord(grant.id, { kind: 'access' });
    assert.equal((await store.rotateRefreshToken(first.hash, null, T0 + 10, [access])).status, 'ok');
    assert.equal((await store.findToken(first.hash))?.token.usedAt, T0 + 10);
    assert.equal((await store.findToken(access.hash))?.token.kind, 'access');
    assert.equal((await store.rotateRefreshToken(first.hash, null, T0 + 11)).status, 'reused');
    const other = grantRecord();
    await store.createGrant(other);
    await assert.rejects(store.rotateRefreshToken((await saved(store, grant.id)).hash, null, T0, [tokenRecord(other.id, { kind: 'access' })]), TypeError);
    const many = [tokenRecord(grant.id, { kind: 'access' }), tokenRecord(grant.id)];
    await store.saveTokens(many);
    for (const tk of many) assert.equal((await store.findToken(tk.hash))?.token.hash, tk.hash);
  });

  test(`${name}: concurrent writes: one refused (another grant's token) does not undo the others`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    const other = grantRecord();
    await store.createGrant(grant);
    await store.createGrant(other);
    const a = tokenRecord(grant.id);
    const b = tokenRecord(grant.id);
    await store.saveToken(a);
    await store.saveToken(b);
    const goodAccess = tokenRecord(grant.id, { kind: 'access' });
    const [bad, good, saved] = await Promise.allSettled([
      store.rotateRefreshToken(a.hash, null, T0, [tokenRecord(other.id, { kind: 'access' })]),
      store.rotateRefreshToken(b.hash, null, T0, [goodAccess]),
      store.saveTokens([tokenRecord(grant.id, { kind: 'access' })]),
    ]);
    assert.equal(bad.status, 'rejected');
    assert.ok(bad.status === 'rejected' && bad.reason instanceof TypeError);
    assert.equal(good.status === 'fulfilled' && good.value.status, 'ok');
    assert.equal(saved.status, 'fulfilled');
    assert.equal((await store.findToken(a.hash))?.token.usedAt, null, 'the refused rotation left its token unspent');
    assert.equal((await store.findToken(goodAccess.hash))?.token.kind, 'access');
  });

  test(`${name}: rotateRefreshToken succeeds once, stores the successor, then reports reuse`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const first = tokenRecord(grant.id);
    await store.saveToken(first);

    const second = tokenRecord(grant.id, { createdAt: T0 + 10 });
    const rotated = await store.rotateRefreshToken(first.hash, second, T0 + 10);
    assert.deepEqual(rotated, { status: 'ok', record: { ...first, usedAt: T0 + 10 } });
    assert.deepEqual((await store.findToken(second.hash))?.token, second);

    // The successor rotates in turn: a chain, each link single-use.
    const third = tokenRecord(grant.id, { createdAt: T0 + 20 });
    assert.equal((await store.rotateRefreshToken(second.hash, third, T0 + 20)).status, 'ok');

    // Replaying the first token: reuse, with the record, and its successor is not stored.
    const replacement = tokenRecord(grant.id);
    const replay = await store.rotateRefreshToken(first.hash, replacement, T0 + 30);
    assert.deepEqual(replay, { status: 'reused', record: { ...first, usedAt: T0 + 10 } });
    assert.equal(await store.findToken(replacement.hash), null);
  });

  test(`${name}: rotateRefreshToken reports an unknown hash or an access token as missing`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const access = tokenRecord(grant.id, { kind: 'access' });
    await store.saveToken(access);
    const successor = tokenRecord(grant.id);

    assert.deepEqual(await store.rotateRefreshToken(newHash(), successor, T0), { status: 'missing' });
    assert.deepEqual(await store.rotateRefreshToken(access.hash, successor, T0), { status: 'missing' });
    assert.equal(await store.findToken(successor.hash), null);
    assert.equal((await store.findToken(access.hash))?.token.usedAt, null);
  });

  test(`${name}: rotateRefreshToken rejects a successor of the wrong kind or grant, and leaves the token usable`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    const other = grantRecord();
    await store.createGrant(grant);
    await store.createGrant(other);
    const token = tokenRecord(grant.id);
    await store.saveToken(token);

    await assert.rejects(store.rotateRefreshToken(token.hash, tokenRecord(grant.id, { kind: 'access' }), T0), {
      name: 'TypeError',
      message: 'the successor of a refresh token must be a refresh token',
    });
    await assert.rejects(store.rotateRefreshToken(token.hash, tokenRecord(other.id), T0), {
      name: 'TypeError',
      message: 'the successor of a refresh token must belong to the same grant',
    });
    assert.equal((await store.findToken(token.hash))?.token.usedAt, null);
    assert.equal((await store.rotateRefreshToken(token.hash, tokenRecord(grant.id), T0)).status, 'ok');
  });

  test(`${name}: rotateRefreshToken of a revoked token reports revoked and stores nothing`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const token = tokenRecord(grant.id);
    await store.saveToken(token);
    await store.revokeToken(token.hash, T0 + 1);

    const successor = tokenRecord(grant.id);
    assert.deepEqual(await store.rotateRefreshToken(token.hash, successor, T0 + 2), {
      status: 'revoked',
      record: { ...token, revokedAt: T0 + 1 },
    });
    assert.equal(await store.findToken(successor.hash), null);
  });

  test(`${name}: 20 concurrent rotations of one refresh token: exactly one ok and one successor stored`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const token = tokenRecord(grant.id);
    await store.saveToken(token);

    const successors = Array.from({ length: 20 }, () => tokenRecord(grant.id));
    const results = await race(20, (i) => store.rotateRefreshToken(token.hash, successors[i]!, T0 + i));
    const statuses = results.map((r) => r.status);
    assert.equal(count(statuses, 'ok'), 1);
    assert.equal(count(statuses, 'reused'), 19);

    const stored = await Promise.all(successors.map((s) => store.findToken(s.hash)));
    const winner = statuses.indexOf('ok');
    assert.deepEqual(stored.map((s, i) => (s === null ? null : i)).filter((i) => i !== null), [winner]);
  });
}

/** A fresh refresh token saved for `grantId`. */
async function saved(store: import('../../../src/storage/port.js').OAuthStore, grantId: string) {
  const tk = tokenRecord(grantId);
  await store.saveToken(tk);
  return tk;
}
