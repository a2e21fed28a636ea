import assert from 'node:assert/strict';
import { mock, test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { MemoryThrottle } from '../../src/accounts/throttle.js';
import { parseConfigText } from '../../src/config/load.js';
import { outcome } from '../helpers/engine.js';
import { fixture } from '../helpers/paths.js';

test('MemoryThrottle blocks after the limit within the window, and a success clears it', (ctx) => {
  ctx.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const t = new MemoryThrottle(3, 60_000);
  for (let i = 0; i < 3; i++) {
    assert.equal(t.blockedFor('k'), 0);
    t.fail('k');
  }
  // The window started at the first failure: blocked for all of it, to the millisecond.
  assert.equal(t.blockedFor('k'), 60_000);
  ctx.mock.timers.tick(59_999);
  assert.equal(t.blockedFor('k'), 1);
  ctx.mock.timers.tick(1);
  assert.equal(t.blockedFor('k'), 0, 'the window is over');
  for (let i = 0; i < 3; i++) t.fail('k');
  assert.equal(t.blockedFor('k'), 60_000, 'a new window');
  assert.equal(t.blockedFor('other'), 0);
  t.succeed('k');
  assert.equal(t.blockedFor('k'), 0);
  const off = new MemoryThrottle(0, 1000);
  for (let i = 0; i < 100; i++) off.fail('k');
  assert.equal(off.blockedFor('k'), 0);
  assert.equal(off.failures('k'), 0);
});

test('MemoryThrottle: failures() counts within the window; a window that ended counts nothing and the next failure starts a new one', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const th = new MemoryThrottle(3, 60_000);
  assert.equal(th.failures('k'), 0);
  th.fail('k');
  th.fail('k');
  assert.equal(th.failures('k'), 2);
  t.mock.timers.tick(59_999);
  assert.equal(th.failures('k'), 2);
  t.mock.timers.tick(1);
  assert.equal(th.failures('k'), 0, 'the window ended at its last millisecond');
  th.fail('k');
  assert.equal(th.failures('k'), 1, 'a new window, not a third failure of the old one');
  th.fail('k');
  th.fail('k');
  assert.equal(th.blockedFor('k'), 60_000, 'the new window runs from its first failure');
  // Without reading it at its end: long after the window, a blocked key is free, never negative.
  t.mock.timers.tick(90_000);
  assert.equal(th.blockedFor('k'), 0);
  assert.equal(th.failures('k'), 0);
  th.fail('k');
  assert.equal(th.failures('k'), 1);
  th.succeed('k');
  assert.equal(th.failures('k'), 0);
});

test('MemoryThrottle at its bound forgets the oldest keys down to 90%, and none before', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const th = new MemoryThrottle(1, 60_000, 20);
  for (let i = 0; i < 20; i++) th.fail(`k${i}`);
  for (let i = 0; i < 20; i++) assert.equal(th.failures(`k${i}`), 1, `k${i}: 20 keys fit`);
  th.fail('k20');
  // 21 keys do not: the two oldest go (20 - 18), the rest stay blocked.
  assert.equal(th.failures('k0'), 0);
  assert.equal(th.blockedFor('k0'), 0);
  assert.equal(th.failures('k1'), 0);
  for (let i = 2; i <= 20; i++) {
    assert.equal(th.failures(`k${i}`), 1, `k${i} kept`);
    assert.equal(th.blockedFor(`k${i}`), 60_000);
  }
});

test('MemoryThrottle at its bound drops ended windows first: a key blocked in its window is kept', (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const th = new MemoryThrottle(2, 60_000, 10);
  th.fail('blocked');
  t.mock.timers.tick(1000);
  for (let i = 1; i <= 8; i++) th.fail(`e${i}`);
  // The first window of `blocked` ends; two new failures block it for a new window, which ends
  // after the windows of e1..e8.
  t.mock.timers.tick(59_000);
  th.fail('blocked');
  th.fail('blocked');
  assert.equal(th.blockedFor('blocked'), 60_000);
  t.mock.timers.tick(1000);
  for (let i = 1; i <= 8; i++) assert.equal(th.failures(`e${i}`), 0, `e${i}: its window ended`);
  th.fail('n1');
  th.fail('n2'); // 10 keys held: the bound
  assert.equal(th.blockedFor('blocked'), 59_000, 'still blocked, with its failures');
  assert.equal(th.failures('blocked'), 2);
  assert.equal(th.failures('n1'), 1);
  assert.equal(th.failures('n2'), 1);
});

test("MemoryThrottle: a key read after its window ended takes no room: the bound does not push out another key", (t) => {
  t.mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  const th = new MemoryThrottle(1, 60_000, 20);
  th.fail('old');
  t.mock.timers.tick(1);
  for (let i = 1; i <= 19; i++) th.fail(`k${i}`);
  t.mock.timers.tick(59_999);
  assert.equal(th.blockedFor('old'), 0, 'its window ends now');
  th.fail('new');
  for (let i = 1; i <= 19; i++) assert.equal(th.blockedFor(`k${i}`), 1, `k${i} kept`);
  assert.equal(th.blockedFor('new'), 60_000);
});

test('with a backoff, past the limit a key waits a delay after its last failure that doubles, up to the cap, never the window', (t) => {
  mock.timers.enable({ apis: ['Date'], now: 1_000_000 });
  t.after(() => mock.timers.reset());
  const th = new MemoryThrottle(3, 300_000, undefined, { firstMs: 1000, maxMs: 8000 });
  for (let i = 0; i < 3; i++) th.fail('k');
  assert.equal(th.blockedFor('k'), 1000, 'at the limit: 1 s after the last failure');
  mock.timers.tick(400);
  assert.equal(th.blockedFor('k'), 600);
  mock.timers.tick(600);
  assert.equal(th.blockedFor('k'), 0, 'then it may try again');
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    th.fail('k');
    waits.push(th.blockedFor('k'));
  }
  assert.deepEqual(waits, [2000, 4000, 8000, 8000, 8000], 'doubling up to the cap');
  th.succeed('k');
  assert.equal(th.blockedFor('k'), 0);
  // Without a backoff, the same failures block until the window ends.
  const plain = new MemoryThrottle(3, 300_000);
  for (let i = 0; i < 3; i++) plain.fail('k');
  assert.equal(plain.blockedFor('k'), 300_000);
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
  // alice is locked at that address even with the right password; the refusal is an error, not a yes.
  assert.equal(await outcome(accounts.query(q('alice', 'secret'), { address: '127.0.0.1' })), 'ERR_AUTH_THROTTLED');
  // Elsewhere (the real user), and without an address (the auth API), she is not.
  assert.equal(await accounts.query(q('alice', 'secret'), { address: '127.0.0.2' }), true);
  assert.equal(await accounts.query(q('alice', 'secret')), true);
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

test('Accounts: past the per-user ceiling an address gets one guess; a clean address still gets in; the /64 is one address', async (t) => {
  const config = parseConfigText(
    `external_auth_command = ["${process.execPath}", "${fixture('fast.mjs')}"]
auth_failure_limit_user = 2
auth_failure_limit_address = 0
auth_failure_window = 60`,
  );
  const accounts = new Accounts(config);
  t.after(() => accounts.close());
  const q = (password: string) => ({ command: 'auth' as const, user: 'alice', host: 'localhost', password });
  // Two addresses of one IPv6 /64 are one address: two failures lock both.
  assert.equal(await accounts.query(q('w1'), { address: '2001:db8:1:2::a' }), false);
  assert.equal(await accounts.query(q('w2'), { address: '2001:db8:1:2::b' }), false);
  assert.equal(await outcome(accounts.query(q('secret'), { address: '2001:db8:1:2::c' })), 'ERR_AUTH_THROTTLED');
  // 20 failures in all (the ceiling, 10 × 2) from ten addresses.
  for (let a = 1; a <= 9; a++) for (const w of ['x', 'y']) assert.equal(await accounts.query(q(w), { address: `192.0.2.${a}` }), false);
  assert.equal(await accounts.query(q('once'), { address: '192.0.2.50' }), false);
  assert.equal(await outcome(accounts.query(q('secret'), { address: '192.0.2.50' })), 'ERR_AUTH_THROTTLED', 'one guess per address');
  assert.equal(await accounts.query(q('secret'), { address: '192.0.2.99' }), true, 'an address without failures gets in');
  assert.equal(await accounts.query(q('secret'), { address: '::ffff:192.0.2.98' }), true);
  assert.equal(await outcome(accounts.query(q('secret'), { address: '::ffff:192.0.2.50' })), 'ERR_AUTH_THROTTLED', 'IPv4-mapped is the same address');
});

test("Accounts: on a face without the client's address, a stranger's ten wrong guesses keep the user out for a second, not the window", async (t) => {
  const config = parseConfigText(
    `external_auth_command = ["${process.execPath}", "${fixture('fast.mjs')}"]
auth_failure_limit_user = 10
auth_failure_window = 300
auth_failure_backoff_max = 4`,
  );
  const accounts = new Accounts(config);
  t.after(() => accounts.close());
  const q = (password: string) => ({ command: 'auth' as const, user: 'alice', host: 'localhost', password });
  // Real timers for the engine; only Date moves by hand.
  mock.timers.enable({ apis: ['Date'], now: 5_000_000 });
  t.after(() => mock.timers.reset());
  for (let i = 0; i < 10; i++) assert.equal(await accounts.query(q(`guess-${i}`)), false);
  const refused = await accounts.query(q('secret')).catch((err: { code?: string; retryAfterMs?: number }) => err);
  assert.equal((refused as { code?: string }).code, 'ERR_AUTH_THROTTLED');
  mock.timers.tick(1000);
  assert.equal(await accounts.query(q('secret')), true, 'one second later the real user gets in');
  // A stranger who keeps guessing: each failure past the limit doubles the wait, up to the cap
  // (4 s here); attempts made while waiting are refused unasked and count for nothing.
  const code = async (password: string): Promise<boolean | string | undefined> =>
    accounts.query(q(password)).catch((err: { code?: string }) => err.code);
  for (let i = 0; i < 10; i++) assert.equal(await code(`guess2-${i}`), false);
  const waits: number[] = [];
  for (let i = 0; i < 4; i++) {
    let waited = 0;
    while ((await code('probe-while-blocked')) === 'ERR_AUTH_THROTTLED') {
      mock.timers.tick(500);
      waited += 500;
      assert.ok(waited <= 60_000, 'bounded');
    }
    waits.push(waited);
  }
  // The probes that got through were wrong guesses too: 1 s, then 2 s, then 4 s, then 4 s.
  assert.deepEqual(waits, [1000, 2000, 4000, 4000]);
});
