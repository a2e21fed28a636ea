/**
 * The one failure vocabulary (src/accounts/outcome.ts): errors of the engine, the accounts layer
 * and the store, built from their real classes or produced by real engines on the fixture
 * scripts, each get the class every face answers from. Whatever is not known is `temporary`:
 * never a class a face could answer as a yes or a plain "wrong".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { AccountsError, AccountsErrorCodes, ReloadError, type AccountsErrorCode } from '../../src/accounts/errors.js';
import { classify, FAILURE_CLASSES, retryAfterMs, type FailureClass } from '../../src/accounts/outcome.js';
import { parseConfigText } from '../../src/config/load.js';
import { ExtauthError, ExtauthErrorCodes, type ExtauthErrorCode } from '../../src/extauth/errors.js';
import { StorageError, StorageErrorCodes, type StorageErrorCode } from '../../src/storage/errors.js';
import { fixtureEngine } from '../helpers/engine.js';
import { fixture } from '../helpers/paths.js';

/** The rejection of `p`; fails the test when it resolves. */
async function rejection(p: Promise<unknown>): Promise<unknown> {
  try {
    const value = await p;
    assert.fail(`expected a rejection, got ${String(value)}`);
  } catch (err) {
    if (err instanceof assert.AssertionError) throw err;
    return err;
  }
}

test('every engine error: temporary exactly when ExtauthError.temporary says so; otherwise invalid input or unsupported', () => {
  const expected: Record<ExtauthErrorCode, FailureClass> = {
    ERR_EXTAUTH_INVALID_INPUT: 'invalid',
    ERR_EXTAUTH_TIMEOUT: 'temporary',
    ERR_EXTAUTH_OVERLOADED: 'temporary',
    ERR_EXTAUTH_EXITED: 'temporary',
    ERR_EXTAUTH_BAD_REPLY: 'temporary',
    ERR_EXTAUTH_SPAWN_FAILED: 'temporary',
    ERR_EXTAUTH_UNAVAILABLE: 'temporary',
    ERR_EXTAUTH_CLOSED: 'temporary',
    ERR_EXTAUTH_ABORTED: 'temporary',
    ERR_EXTAUTH_DEADLINE: 'temporary',
    ERR_EXTAUTH_UNSUPPORTED: 'unsupported',
  };
  for (const code of Object.keys(ExtauthErrorCodes) as ExtauthErrorCode[]) {
    const err = new ExtauthError(code);
    assert.equal(classify(err), expected[code], code);
    assert.equal(classify(err) === 'temporary', err.temporary, `${code}: agrees with ExtauthError.temporary`);
  }
});

test('accounts errors: throttled (with its wait), no script for the host is unsupported, an unrevoked change is temporary', () => {
  const expected: Record<AccountsErrorCode, FailureClass> = {
    ERR_AUTH_THROTTLED: 'throttled',
    ERR_AUTH_NOT_CONFIGURED: 'unsupported',
    ERR_AUTH_LIFECYCLE: 'temporary',
  };
  for (const code of Object.keys(AccountsErrorCodes) as AccountsErrorCode[]) assert.equal(classify(new AccountsError(code)), expected[code], code);
  assert.equal(retryAfterMs(new AccountsError('ERR_AUTH_THROTTLED', 4200)), 4200);
  assert.equal(retryAfterMs(new ExtauthError('ERR_EXTAUTH_TIMEOUT')), 0);
});

test('storage errors: temporary when StorageError.temporary says so, internal otherwise', () => {
  for (const code of Object.keys(StorageErrorCodes) as StorageErrorCode[]) {
    const err = new StorageError(code);
    assert.equal(classify(err), err.temporary ? 'temporary' : 'internal', code);
  }
  assert.equal(classify(new StorageError('ERR_STORAGE_UNAVAILABLE')), 'temporary');
  assert.equal(classify(new StorageError('ERR_STORAGE_CLOSED')), 'temporary');
  assert.equal(classify(new StorageError('ERR_STORAGE_CORRUPT')), 'internal');
});

test('an error nobody here knows is temporary, even one that looks like a known code', () => {
  for (const err of [new TypeError('bug'), new Error('x'), 'a string', null, undefined, 42, new ReloadError('ERR_RELOAD_BUSY')]) {
    assert.equal(classify(err), 'temporary', String(err));
  }
  // A plain object with a code is not an engine error: its claim of "invalid input" is not trusted.
  assert.equal(classify({ code: 'ERR_EXTAUTH_INVALID_INPUT', temporary: false }), 'temporary');
  assert.equal(classify(Object.assign(new Error('fake'), { code: 'ERR_AUTH_THROTTLED' })), 'temporary');
  assert.deepEqual([...FAILURE_CLASSES].sort(), ['internal', 'invalid', 'temporary', 'throttled', 'unsupported', 'wrong']);
});

test('a real engine: a crash, a timeout, a silent script, a broken reply and a closed engine are temporary; a newline is invalid', async (t) => {
  const crash = fixtureEngine('crash-query.mjs').engine;
  const slow = fixtureEngine('slow.mjs', { timeoutMs: 200 }).engine;
  const silent = fixtureEngine('silent.mjs', { timeoutMs: 200 }).engine;
  const lying = fixtureEngine('lying.mjs').engine;
  const closed = fixtureEngine('fast.mjs').engine;
  t.after(() => Promise.all([crash, slow, silent, lying, closed].map((e) => e.close({ force: true }))));

  const crashed = await rejection(crash.query({ command: 'auth', user: 'alice', host: 'localhost', password: 'crash' }));
  assert.equal((crashed as ExtauthError).code, 'ERR_EXTAUTH_EXITED');
  assert.equal(classify(crashed), 'temporary');
  // Positive control: the same engine answers a plain query, so the crash was the query's.
  assert.equal(await crash.query({ command: 'auth', user: 'alice', host: 'localhost', password: 'secret' }), true);

  const late = await rejection(slow.query({ command: 'auth', user: 'alice', host: 'localhost', password: 'delay-2000' }));
  assert.equal((late as ExtauthError).code, 'ERR_EXTAUTH_TIMEOUT');
  assert.equal(classify(late), 'temporary');

  const unanswered = await rejection(silent.query({ command: 'auth', user: 'alice', host: 'localhost', password: 'secret' }));
  assert.equal((unanswered as ExtauthError).code, 'ERR_EXTAUTH_TIMEOUT');
  assert.equal(classify(unanswered), 'temporary');

  const garbled = await rejection(lying.query({ command: 'auth', user: 'alice', host: 'localhost', password: 'secret' }));
  assert.equal((garbled as ExtauthError).code, 'ERR_EXTAUTH_BAD_REPLY');
  assert.equal(classify(garbled), 'temporary');

  const injected = await rejection(crash.query({ command: 'auth', user: 'alice', host: 'localhost', password: 'x\nsetpass:admin:localhost:owned' }));
  assert.equal((injected as ExtauthError).code, 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal(classify(injected), 'invalid');

  await closed.close();
  const shut = await rejection(closed.query({ command: 'auth', user: 'alice', host: 'localhost', password: 'secret' }));
  assert.equal(classify(shut), 'temporary');
});

test('real Accounts: a host without a script and a command not allowed are unsupported; a throttled user is throttled', async (t) => {
  const config = parseConfigText(
    `auth_failure_limit_user = 1
auth_failure_limit_address = 0
[hosts."a.example"]
external_auth_command = ["${process.execPath}", "${fixture('fast.mjs')}"]
external_auth_commands = ["auth", "isuser"]`,
  );
  const accounts = new Accounts(config);
  t.after(() => accounts.close());
  assert.equal(classify(await rejection(accounts.query({ command: 'auth', user: 'alice', host: 'z.example', password: 'secret' }))), 'unsupported');
  assert.equal(classify(await rejection(accounts.query({ command: 'setpass', user: 'alice', host: 'a.example', password: 'new' }))), 'unsupported');
  assert.equal(await accounts.query({ command: 'auth', user: 'alice', host: 'a.example', password: 'wrong' }), false, 'a plain "no" is an answer, not an error');
  const throttled = await rejection(accounts.query({ command: 'auth', user: 'alice', host: 'a.example', password: 'secret' }));
  assert.equal(classify(throttled), 'throttled');
  assert.ok(retryAfterMs(throttled) > 0);
});
