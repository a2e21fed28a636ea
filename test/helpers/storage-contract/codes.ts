/** Contract: an authorization code is consumed once (RFC 6749 §4.1.2), even when callers race. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codeRecord, grantRecord, MINUTE, newHash, T0, tokenRecord } from '../storage-records.js';
import { count, race, storeFor, type Suite } from './types.js';

export function codesContract(suite: Suite): void {
  const { name } = suite;

  test(`${name}: consumeCode returns ok with the record once, then reused with the first consumption time`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const code = codeRecord(grant, { nonce: 'n-0S6_WzA2Mj' });
    await store.saveCode(code);

    assert.deepEqual(await store.consumeCode(code.hash, T0 + 1), { status: 'ok', record: { ...code, consumedAt: T0 + 1 } });
    assert.deepEqual(await store.consumeCode(code.hash, T0 + 2), { status: 'reused', record: { ...code, consumedAt: T0 + 1 } });
    assert.deepEqual(await store.consumeCode(code.hash, T0 + 3), { status: 'reused', record: { ...code, consumedAt: T0 + 1 } });
  });

  test(`${name}: findCode reads without consuming; redeemCode consumes, saves the tokens and touches the grant in one step, once`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const code = codeRecord(grant);
    await store.saveCode(code);
    assert.deepEqual(await store.findCode(code.hash), code);
    assert.equal(await store.findCode(newHash()), null);
    const access = tokenRecord(grant.id, { kind: 'access' });
    const refresh = tokenRecord(grant.id, { kind: 'refresh' });
    assert.deepEqual(await store.redeemCode(code.hash, T0 + 5, [access, refresh]), { status: 'ok', record: { ...code, consumedAt: T0 + 5 } });
    assert.equal((await store.findToken(access.hash))?.token.kind, 'access');
    assert.equal((await store.findToken(refresh.hash))?.token.kind, 'refresh');
    assert.equal((await store.getGrant(grant.id))?.lastUsedAt, T0 + 5);
    // A second redemption buys nothing: its tokens are not stored.
    const again = tokenRecord(grant.id, { kind: 'access' });
    assert.equal((await store.redeemCode(code.hash, T0 + 6, [again])).status, 'reused');
    assert.equal(await store.findToken(again.hash), null);
    assert.deepEqual(await store.redeemCode(newHash(), T0, []), { status: 'missing' });
  });

  test(`${name}: redeemCode of a code whose grant was revoked is revoked and stores nothing`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const code = codeRecord(grant);
    await store.saveCode(code);
    await store.revokeGrant(grant.id, T0 + 1);
    const access = tokenRecord(grant.id, { kind: 'access' });
    assert.equal((await store.redeemCode(code.hash, T0 + 2, [access])).status, 'revoked');
    assert.equal(await store.findToken(access.hash), null);
  });

  test(`${name}: findCodeWithGrant reads a code and its grant together, as stored`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const code = codeRecord(grant, { nonce: 'n-1' });
    await store.saveCode(code);
    assert.deepEqual(await store.findCodeWithGrant(code.hash), { code, grant });
    assert.equal(await store.findCodeWithGrant(newHash()), null);
    await store.revokeGrant(grant.id, T0 + 1);
    const after = await store.findCodeWithGrant(code.hash);
    assert.equal(after?.grant.revokedAt, T0 + 1);
    assert.equal(after?.code.hash, code.hash);
  });

  test(`${name}: redeemCode refuses tokens of another grant: nothing consumed, nothing stored`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    const other = grantRecord();
    await store.createGrant(grant);
    await store.createGrant(other);
    const code = codeRecord(grant);
    await store.saveCode(code);
    const stray = tokenRecord(other.id, { kind: 'access' });
    await assert.rejects(store.redeemCode(code.hash, T0 + 1, [stray]), { name: 'TypeError', message: 'tokens bought by a code must belong to its grant' });
    assert.equal(await store.findToken(stray.hash), null);
    assert.equal((await store.findCode(code.hash))?.consumedAt, null);
    // The code is still good for its own grant.
    const access = tokenRecord(grant.id, { kind: 'access' });
    assert.equal((await store.redeemCode(code.hash, T0 + 2, [access])).status, 'ok');
    assert.equal((await store.findToken(access.hash))?.token.hash, access.hash);
    assert.equal((await store.getGrant(grant.id))?.lastUsedAt, T0 + 2);
  });

  test(`${name}: 20 concurrent redeemCode calls: one ok, and only its tokens are stored`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const code = codeRecord(grant);
    await store.saveCode(code);
    const tokens = Array.from({ length: 20 }, () => tokenRecord(grant.id, { kind: 'access' }));
    const results = await Promise.all(tokens.map((tk, i) => store.redeemCode(code.hash, T0 + i, [tk])));
    assert.equal(results.filter((r) => r.status === 'ok').length, 1);
    const stored = (await Promise.all(tokens.map((tk) => store.findToken(tk.hash)))).filter((x) => x !== null);
    assert.equal(stored.length, 1);
  });

  test(`${name}: consumeCode of an unknown code is missing`, async (t) => {
    const store = await storeFor(t, suite);
    assert.deepEqual(await store.consumeCode(newHash(), T0), { status: 'missing' });
  });

  test(`${name}: consumeCode leaves expiry to the caller: an expired code is consumed and carries expiresAt`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const code = codeRecord(grant, { expiresAt: T0 + MINUTE });
    await store.saveCode(code);
    const r = await store.consumeCode(code.hash, T0 + 2 * MINUTE);
    assert.equal(r.status, 'ok');
    assert.ok(r.status === 'ok' && r.record.expiresAt < T0 + 2 * MINUTE);
  });

  test(`${name}: saveCode refuses a duplicate hash and a code of an unknown grant`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const code = codeRecord(grant);
    await store.saveCode(code);
    await assert.rejects(store.saveCode(code), { name: 'StorageError', code: 'ERR_STORAGE_CONFLICT' });
    await assert.rejects(store.saveCode(codeRecord({ ...grant, id: 'no-such-grant' })), {
      name: 'StorageError',
      code: 'ERR_STORAGE_UNKNOWN_GRANT',
    });
  });

  test(`${name}: 20 concurrent consumeCode calls on one code: exactly one ok, 19 reused`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const code = codeRecord(grant);
    await store.saveCode(code);

    const results = await race(20, (i) => store.consumeCode(code.hash, T0 + i));
    const statuses = results.map((r) => r.status);
    assert.equal(count(statuses, 'ok'), 1);
    assert.equal(count(statuses, 'reused'), 19);
    // Every loser sees the winner's consumption time.
    const winner = results[statuses.indexOf('ok')]!;
    const times = new Set(results.map((r) => (r.status === 'missing' ? null : r.record.consumedAt)));
    assert.deepEqual([...times], [winner.status === 'ok' ? winner.record.consumedAt : null]);
  });
}
