import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { MemoryThrottle } from '../../src/accounts/throttle.js';
import { parseConfigText } from '../../src/config/load.js';
import { outcome } from '../helpers/engine.js';
import { fixture } from '../helpers/paths.js';

test('MemoryThrottle blocks after the limit within the window, and a success clears it', () => {
  const t = new MemoryThrottle(3, 60_000);
  for (let i = 0; i < 3; i++) {
    assert.equal(t.blockedFor('k'), 0);
    t.fail('k');
  }
  const wait = t.blockedFor('k');
  assert.ok(wait > 59_000 && wait <= 60_000);
  assert.equal(t.blockedFor('other'), 0);
  t.succeed('k');
  assert.equal(t.blockedFor('k'), 0);
  const off = new MemoryThrottle(0, 1000);
  for (let i = 0; i < 100; i++) off.fail('k');
  assert.equal(off.blockedFor('k'), 0);
});

test('MemoryThrottle memory stays bounded under many keys', () => {
  const t = new MemoryThrottle(1, 60_000, 1000);
  for (let i = 0; i < 10_000; i++) t.fail(`k${i}`);
  // The newest keys are still tracked.
  assert.ok(t.blockedFor('k9999') > 0);
});

test('Accounts: failed logins per user and per address are throttled before reaching the script', async (t) => {
  const config = parseConfigText(
    `external_auth_command = ["${process.execPath}", "${fixture('fast.mjs')}"]
auth_failure_limit_user = 3
auth_failure_limit_address = 5
auth_failure_window = 60`,
  );
  const accounts = new Accounts(config);
  t.after(() => accounts.close());
  const q = (user: string, password: string) => ({ command: 'auth' as const, user, host: 'localhost', password });
  for (let i = 0; i < 3; i++) assert.equal(await accounts.query(q('alice', 'wrong'), { address: '127.0.0.1' }), false);
  // alice is locked even with the right password; the refusal is an error, not a yes.
  assert.equal(await outcome(accounts.query(q('alice', 'secret'), { address: '127.0.0.2' })), 'ERR_AUTH_THROTTLED');
  // bob is not, until the address passes its own limit.
  assert.equal(await accounts.query(q('bob', 'wrong'), { address: '127.0.0.1' }), false);
  assert.equal(await accounts.query(q('carol', 'wrong'), { address: '127.0.0.1' }), false);
  assert.equal(await outcome(accounts.query(q('dave', 'secret'), { address: '127.0.0.1' })), 'ERR_AUTH_THROTTLED');
  assert.equal(await accounts.query(q('dave', 'secret'), { address: '127.0.0.3' }), true);
  // isuser is not a login attempt.
  assert.equal(await accounts.query({ command: 'isuser', user: 'alice', host: 'localhost' }), true);
});

test('Accounts: hosts with their own script get their own pool; unconfigured hosts are refused', async (t) => {
  const config = parseConfigText(
    `[hosts."a.example"]
external_auth_command = ["${process.execPath}", "${fixture('fast.mjs')}"]
[hosts."b.example"]
external_auth_command = ["${process.execPath}", "${fixture('fast.mjs')}"]
external_auth_protocol = "generic"
[hosts."c.example"]
external_auth_command = ["${process.execPath}", "${fixture('lying.mjs')}"]`,
  );
  const accounts = new Accounts(config);
  t.after(() => accounts.close());
  assert.equal(accounts.engines().length, 2, 'a and b share one pool (same settings), c has its own');
  assert.equal(await accounts.query({ command: 'auth', user: 'x', host: 'a.example', password: 'secret' }), true);
  assert.equal(await outcome(accounts.query({ command: 'auth', user: 'x', host: 'c.example', password: 'secret' })), 'ERR_EXTAUTH_BAD_REPLY');
  assert.equal(await outcome(accounts.query({ command: 'isuser', user: 'x', host: 'z.example' })), 'ERR_AUTH_NOT_CONFIGURED');
});
