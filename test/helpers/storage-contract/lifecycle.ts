/** Contract: a closed store refuses work with a coded error; with a persistent store, data survives reopening. */
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { test } from 'node:test';
import { codeRecord, deviceRecord, grantRecord, T0, tokenRecord } from '../storage-records.js';
import { storeFor, type Suite } from './types.js';

export function lifecycleContract(suite: Suite): void {
  const { name, open } = suite;

  test(`${name}: after close, calls reject with ERR_STORAGE_CLOSED; closing twice is harmless`, async () => {
    const store = await open();
    await store.close();
    await store.close();
    await assert.rejects(store.getGrant('any'), { name: 'StorageError', code: 'ERR_STORAGE_CLOSED', message: 'the store is closed' });
    await assert.rejects(store.consumeCode('any', T0), { name: 'StorageError', code: 'ERR_STORAGE_CLOSED' });
  });

  if (!suite.persistent) return;

  test(`${name}: everything survives close and reopen`, async (t) => {
    const grant = grantRecord();
    const token = tokenRecord(grant.id);
    const code = codeRecord(grant);
    const device = deviceRecord();
    const key = `user:${randomUUID()}`;

    const first = await open();
    await first.createGrant(grant);
    await first.saveToken(token);
    await first.saveCode(code);
    await first.saveDevice(device);
    assert.equal((await first.consumeCode(code.hash, T0 + 1)).status, 'ok');
    await first.hitFailure(key, T0, 60_000);
    await first.hitFailure(key, T0, 60_000);
    await first.close();

    const second = await storeFor(t, suite);
    assert.deepEqual(await second.getGrant(grant.id), grant);
    assert.deepEqual(await second.findToken(token.hash), { token, grant });
    // Single use outlives a restart: the code consumed before is a replay now.
    assert.equal((await second.consumeCode(code.hash, T0 + 2)).status, 'reused');
    assert.deepEqual(await second.findDeviceByUserCode(device.userCode), device);
    assert.equal(await second.failuresOf(key, T0 + 1), 2);
  });
}
