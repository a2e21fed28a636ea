/** Contract: an authorization code is consumed once (RFC 6749 §4.1.2), even when callers race. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { codeRecord, grantRecord, MINUTE, newHash, T0 } from '../records.js';
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
