/**
 * The one failure vocabulary (src/accounts/outcome.ts): errors of the engine, the accounts layer
 * and the store, built from their real classes or produced by real engines on the fixture
 * scripts, each get the class every face answers from. Whatever is not known is `temporary`:
 * never a class a face could answer as a yes or a plain "wrong".
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { AccountsError, AccountsErrorCodes, ReloadError, ReloadErrorCodes, type AccountsErrorCode } from '../../src/accounts/errors.js';
import { classify, errorCode, FAILURE_CLASSES, messageOf, retryAfterMs, type FailureClass } from '../../src/accounts/outcome.js';
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

test('retryAfterMs: only a real throttled AccountsError carries a wait', () => {
  assert.equal(retryAfterMs(new AccountsError('ERR_AUTH_THROTTLED')), 0, 'no wait given');
  assert.equal(retryAfterMs(new AccountsError('ERR_AUTH_NOT_CONFIGURED', 5000)), 0, 'another code: its field is not a wait');
  assert.equal(retryAfterMs(new AccountsError('ERR_AUTH_LIFECYCLE', 5000)), 0);
  assert.equal(retryAfterMs(Object.assign(new Error('fake'), { code: 'ERR_AUTH_THROTTLED', retryAfterMs: 5000 })), 0, 'a look-alike is not trusted');
  assert.equal(retryAfterMs({ code: 'ERR_AUTH_THROTTLED', retryAfterMs: 5000 }), 0);
  for (const v of [null, undefined, 'ERR_AUTH_THROTTLED', 42]) assert.equal(retryAfterMs(v), 0, String(v));
});

test('errorCode: the string code of any error or value that has one, else undefined; messageOf: the message, or the value as a string', () => {
  assert.equal(errorCode(new AccountsError('ERR_AUTH_LIFECYCLE')), 'ERR_AUTH_LIFECYCLE');
  assert.equal(errorCode(new ExtauthError('ERR_EXTAUTH_TIMEOUT')), 'ERR_EXTAUTH_TIMEOUT');
  assert.equal(errorCode(new StorageError('ERR_STORAGE_UNAVAILABLE')), 'ERR_STORAGE_UNAVAILABLE');
  assert.equal(errorCode(new ReloadError('ERR_RELOAD_BUSY')), 'ERR_RELOAD_BUSY');
  assert.equal(errorCode(Object.assign(new Error('refused'), { code: 'ECONNREFUSED' })), 'ECONNREFUSED');
  assert.equal(errorCode({ code: 'EPIPE' }), 'EPIPE');
  assert.equal(errorCode(Object.assign(new Error('x'), { code: 42 })), undefined, 'a code that is not a string');
  assert.equal(errorCode({ code: { toString: () => 'ERR_X' } }), undefined);
  for (const v of [new Error('plain'), new TypeError('bug'), null, undefined, 'ERR_AUTH_THROTTLED', 42, {}]) assert.equal(errorCode(v), undefined, String(v));

  assert.equal(messageOf(new AccountsError('ERR_AUTH_LIFECYCLE')), AccountsErrorCodes.ERR_AUTH_LIFECYCLE);
  assert.equal(messageOf(new ExtauthError('ERR_EXTAUTH_TIMEOUT')), ExtauthErrorCodes.ERR_EXTAUTH_TIMEOUT);
  assert.equal(messageOf(new TypeError('bug')), 'bug');
  assert.equal(messageOf('a string'), 'a string');
  assert.equal(messageOf(42), '42');
  assert.equal(messageOf(null), 'null');
  assert.equal(messageOf(undefined), 'undefined');
  assert.equal(messageOf({ message: 'not an Error' }), '[object Object]');
});

test("AccountsError and ReloadError: their names, their codes' messages, and a reload's detail after the message", () => {
  for (const code of Object.keys(AccountsErrorCodes) as AccountsErrorCode[]) {
    const err = new AccountsError(code, 7);
    assert.equal(err.name, 'AccountsError');
    assert.equal(err.message, AccountsErrorCodes[code]);
    assert.equal(String(err), `AccountsError: ${AccountsErrorCodes[code]}`);
    assert.equal(err.retryAfterMs, 7);
  }
  assert.equal(new AccountsError('ERR_AUTH_THROTTLED').retryAfterMs, 0);
  const plain = new ReloadError('ERR_RELOAD_NOT_READY');
  assert.equal(plain.name, 'ReloadError');
  assert.equal(plain.code, 'ERR_RELOAD_NOT_READY');
  assert.equal(plain.message, ReloadErrorCodes.ERR_RELOAD_NOT_READY);
  assert.equal(String(new ReloadError('ERR_RELOAD_BUSY')), 'ReloadError: a reload is already in progress');
  const detailed = new ReloadError('ERR_RELOAD_NOT_READY', 'host a.example: ERR_EXTAUTH_SPAWN_FAILED');
  assert.equal(detailed.message, 'the new auth script processes did not start and settle in time: host a.example: ERR_EXTAUTH_SPAWN_FAILED');
  assert.equal(new ReloadError('ERR_RELOAD_CLOSED', '').message, 'the service is stopping: ', 'an empty detail is still a detail');
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
