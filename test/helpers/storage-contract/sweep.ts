/**
 * Contract: sweep deletes expired codes, device codes and throttle windows, and tokens expired
 * for more than a day (kept that long so a late replay is still recognised), then grants left
 * with nothing that can use them.
 */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { codeRecord, DAY, deviceRecord, grantRecord, MINUTE, T0, tokenRecord } from '../storage-records.js';
import { storeFor, type Suite } from './types.js';

export function sweepContract(suite: Suite): void {
  const { name } = suite;

  test(`${name}: sweep drops what has expired and keeps the rest`, async (t) => {
    const store = await storeFor(t, suite);
    const now = T0 + 10 * DAY;
    const grant = grantRecord({ revokedAt: T0 });
    await store.createGrant(grant);

    const expiredCode = codeRecord(grant, { expiresAt: now });
    const liveCode = codeRecord(grant, { expiresAt: now + 1 });
    const expiredDevice = deviceRecord({ expiresAt: now });
    const liveDevice = deviceRecord({ expiresAt: now + 1 });
    const longExpired = tokenRecord(grant.id, { expiresAt: now - DAY });
    const recentlyExpired = tokenRecord(grant.id, { expiresAt: now - DAY + 1 });
    const live = tokenRecord(grant.id, { kind: 'access', expiresAt: now + MINUTE });
    for (const c of [expiredCode, liveCode]) await store.saveCode(c);
    for (const d of [expiredDevice, liveDevice]) await store.saveDevice(d);
    for (const tk of [longExpired, recentlyExpired, live]) await store.saveToken(tk);
    const ended = `user:${randomUUID()}`;
    const running = `user:${randomUUID()}`;
    await store.hitFailure(ended, now - MINUTE, MINUTE);
    await store.hitFailure(running, now - MINUTE + 1, MINUTE);

    await store.sweep(now);

    assert.equal((await store.consumeCode(expiredCode.hash, now)).status, 'missing');
    assert.equal((await store.consumeCode(liveCode.hash, now)).status, 'revoked');
    assert.equal(await store.findDevice(expiredDevice.deviceHash), null);
    assert.equal(await store.findDeviceByUserCode(expiredDevice.userCode), null);
    assert.deepEqual(await store.findDevice(liveDevice.deviceHash), liveDevice);
    assert.equal(await store.findToken(longExpired.hash), null);
    assert.equal((await store.findToken(recentlyExpired.hash))?.token.hash, recentlyExpired.hash);
    assert.equal((await store.findToken(live.hash))?.token.hash, live.hash);
    // A swept window is gone: the key starts again at 1. A running one goes on counting.
    assert.equal(await store.hitFailure(ended, now, MINUTE), 1);
    assert.equal(await store.hitFailure(running, now, MINUTE), 2);
    assert.equal((await store.getGrant(grant.id))?.id, grant.id);
  });

  test(`${name}: sweep drops grants left with no token, code or device once unused for a day`, async (t) => {
    const store = await storeFor(t, suite);
    const now = T0 + 30 * DAY;
    // Its last tokens expired long ago: swept with them, then the grant itself.
    const spent = grantRecord({ lastUsedAt: T0 });
    // Revoked, token gone: swept too.
    const revoked = grantRecord({ lastUsedAt: T0, revokedAt: T0 + DAY });
    // Still has a refresh token (spent ones are kept for replay detection): kept.
    const withToken = grantRecord({ lastUsedAt: T0 });
    // Just approved, its code not yet redeemed: kept.
    const withCode = grantRecord({ lastUsedAt: T0 });
    // Nothing left, but used within the day: kept for now.
    const recent = grantRecord({ lastUsedAt: now - DAY + 1 });
    // A device approved with it, not yet polled: kept.
    const withDevice = grantRecord({ lastUsedAt: T0 });
    for (const g of [spent, revoked, withToken, withCode, recent, withDevice]) await store.createGrant(g);
    await store.saveToken(tokenRecord(spent.id, { expiresAt: T0 + DAY }));
    await store.saveToken(tokenRecord(revoked.id, { expiresAt: T0 + DAY }));
    await store.saveToken(tokenRecord(withToken.id, { kind: 'refresh', usedAt: T0, expiresAt: now + DAY }));
    await store.saveCode(codeRecord(withCode, { expiresAt: now + MINUTE }));
    await store.saveDevice(deviceRecord({ grantId: withDevice.id, expiresAt: now + MINUTE }));

    await store.sweep(now);

    assert.equal(await store.getGrant(spent.id), null);
    assert.equal(await store.getGrant(revoked.id), null);
    for (const g of [withToken, withCode, recent, withDevice]) assert.equal((await store.getGrant(g.id))?.id, g.id);
  });

  test(`${name}: a user code freed by sweep can be given to a new device`, async (t) => {
    const store = await storeFor(t, suite);
    const old = deviceRecord({ expiresAt: T0 });
    await store.saveDevice(old);
    await store.sweep(T0);
    const fresh = deviceRecord({ userCode: old.userCode, expiresAt: T0 + 10 * MINUTE });
    await store.saveDevice(fresh);
    assert.deepEqual(await store.findDeviceByUserCode(old.userCode), fresh);
  });
}
