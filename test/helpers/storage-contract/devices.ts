/**
 * Contract: device authorizations (RFC 8628) move pending -> approved -> consumed (once) or
 * pending -> denied; polls are recorded; a revoked grant withdraws an unredeemed approval.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { deviceRecord, grantRecord, newHash, T0 } from '../storage-records.js';
import { count, race, storeFor, type Suite } from './types.js';

export function devicesContract(suite: Suite): void {
  const { name } = suite;

  test(`${name}: saveDevice then findDevice and findDeviceByUserCode return it; unknown ones are null`, async (t) => {
    const store = await storeFor(t, suite);
    const device = deviceRecord();
    await store.saveDevice(device);
    assert.deepEqual(await store.findDevice(device.deviceHash), device);
    assert.deepEqual(await store.findDeviceByUserCode(device.userCode), device);
    assert.equal(await store.findDevice(newHash()), null);
    assert.equal(await store.findDeviceByUserCode('NOSUCHCODE'), null);
  });

  test(`${name}: saveDevice refuses a user code already in use, so a typed code names one device`, async (t) => {
    const store = await storeFor(t, suite);
    const device = deviceRecord();
    await store.saveDevice(device);
    await assert.rejects(store.saveDevice(deviceRecord({ userCode: device.userCode })), {
      name: 'StorageError',
      code: 'ERR_STORAGE_CONFLICT',
    });
    await assert.rejects(store.saveDevice({ ...device, userCode: `${device.userCode}X` }), {
      name: 'StorageError',
      code: 'ERR_STORAGE_CONFLICT',
    });
  });

  test(`${name}: device approved once, then consumed once`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const device = deviceRecord();
    await store.saveDevice(device);

    assert.equal(await store.consumeDevice(device.deviceHash), false, 'a pending device cannot be redeemed');
    assert.equal(await store.decideDevice(device.deviceHash, { approved: true, grantId: grant.id }), true);
    assert.equal(await store.decideDevice(device.deviceHash, { approved: false }), false, 'a decision is final');
    assert.deepEqual(await store.findDevice(device.deviceHash), { ...device, status: 'approved', grantId: grant.id });

    assert.equal(await store.consumeDevice(device.deviceHash), true);
    assert.equal(await store.consumeDevice(device.deviceHash), false);
    assert.deepEqual(await store.findDevice(device.deviceHash), { ...device, status: 'consumed', grantId: grant.id });
    assert.equal(await store.decideDevice(device.deviceHash, { approved: true, grantId: grant.id }), false);
  });

  test(`${name}: device denied: no later approval, nothing to redeem`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const device = deviceRecord();
    await store.saveDevice(device);

    assert.equal(await store.decideDevice(device.deviceHash, { approved: false }), true);
    assert.equal(await store.decideDevice(device.deviceHash, { approved: true, grantId: grant.id }), false);
    assert.equal(await store.consumeDevice(device.deviceHash), false);
    assert.deepEqual(await store.findDevice(device.deviceHash), { ...device, status: 'denied' });
    assert.equal(await store.decideDevice(newHash(), { approved: false }), false);
    assert.equal(await store.consumeDevice(newHash()), false);
  });

  test(`${name}: pollDevice returns the record as before the poll and records the poll time and interval`, async (t) => {
    const store = await storeFor(t, suite);
    const device = deviceRecord({ interval: 5 });
    await store.saveDevice(device);

    assert.deepEqual(await store.pollDevice(device.deviceHash, T0 + 5000, 5), device);
    // slow_down (RFC 8628 §3.5): the caller raises the interval by 5 seconds.
    assert.deepEqual(await store.pollDevice(device.deviceHash, T0 + 6000, 10), { ...device, lastPollAt: T0 + 5000 });
    assert.deepEqual(await store.findDevice(device.deviceHash), { ...device, lastPollAt: T0 + 6000, interval: 10 });
    assert.equal(await store.pollDevice(newHash(), T0, 5), null);
  });

  test(`${name}: revoking the grant of an approved, unredeemed device denies it`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const device = deviceRecord();
    await store.saveDevice(device);
    assert.equal(await store.decideDevice(device.deviceHash, { approved: true, grantId: grant.id }), true);

    await store.revokeGrant(grant.id, T0 + 1);
    assert.equal(await store.consumeDevice(device.deviceHash), false);
    assert.deepEqual(await store.findDevice(device.deviceHash), { ...device, status: 'denied', grantId: grant.id });
  });

  test(`${name}: an approval that names an already revoked grant cannot be redeemed`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    await store.revokeGrant(grant.id, T0);
    const device = deviceRecord();
    await store.saveDevice(device);
    assert.equal(await store.decideDevice(device.deviceHash, { approved: true, grantId: grant.id }), true);
    assert.equal(await store.consumeDevice(device.deviceHash), false);
  });

  test(`${name}: 20 concurrent consumeDevice calls: exactly one true`, async (t) => {
    const store = await storeFor(t, suite);
    const grant = grantRecord();
    await store.createGrant(grant);
    const device = deviceRecord();
    await store.saveDevice(device);
    await store.decideDevice(device.deviceHash, { approved: true, grantId: grant.id });

    const results = await race(20, () => store.consumeDevice(device.deviceHash));
    assert.equal(count(results, true), 1);
  });
}
