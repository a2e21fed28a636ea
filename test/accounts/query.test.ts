/**
 * Password checks through the account service (src/accounts/accounts.ts), against a guesser:
 * every password check (auth, removeuser3) counts, under every spelling of the name; input that
 * cannot be sent counts like a wrong password; a throttled attempt never reaches the script,
 * even with the right password; a success gives back only what the header comment of
 * accounts.ts says; a face without the client's address counts apart. An access token logs its
 * own user in without being throttled (a guesser cannot lock its holder out), and the positive
 * cache never answers where the script would not.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { auth, HOST, holdToken, service } from '../helpers/accounts.js';
import { outcome } from '../helpers/engine.js';

test('password checks count under every spelling, removeuser3 too; other commands and empty passwords do not', async (t) => {
  const { accounts, s, log } = await service(
    t,
    { [HOST]: { dave: 'd1', frank: 'f1' } },
    'auth_failure_limit_user = 2\nauth_failure_limit_address = 4\nauth_failure_window = 600',
  );
  const from = { address: '127.0.0.2' };
  // Neither an empty password (a client probing for a mechanism), nor commands that check no password, count.
  for (let i = 0; i < 6; i++) assert.equal(await accounts.query(auth('frank', ''), from), false);
  for (let i = 0; i < 6; i++) assert.equal(await accounts.query({ command: 'isuser', user: 'ghost', host: HOST }, from), false);
  for (let i = 0; i < 6; i++) assert.equal(await accounts.query({ command: 'setpass', user: 'ghost', host: HOST, password: 'p' }, from), false);
  assert.equal(await accounts.query(auth('frank', 'f1'), from), true, 'neither frank nor the address is throttled');

  // dave's failures under two spellings lock `dave`; the script is asked the names as sent.
  assert.equal(await accounts.query(auth('DAVE', 'w1'), from), false);
  assert.equal(await accounts.query({ command: 'removeuser3', user: 'Dave', host: HOST, password: 'w2' }, from), false);
  const before = s.asked().length;
  const err = await accounts.query({ command: 'removeuser3', user: 'dave', host: HOST, password: 'd1' }, from).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'ERR_AUTH_THROTTLED');
  const retryAfterMs = (err as { retryAfterMs: number }).retryAfterMs;
  assert.ok(retryAfterMs > 590_000 && retryAfterMs <= 600_000, `the rest of the window: ${retryAfterMs}`);
  assert.equal(await outcome(accounts.query(auth('dave', 'd1'), from)), 'ERR_AUTH_THROTTLED');
  assert.equal(s.asked().length, before, 'a throttled attempt never reaches the script');
  assert.deepEqual(s.users()[HOST], { dave: 'd1', frank: 'f1' }, 'dave still exists');
  assert.ok(s.asked().includes('auth:DAVE:localhost:w1') && s.asked().includes('removeuser3:Dave:localhost:w2'));
  const warned = log.entries.filter((e) => e.msg === 'login refused: too many failures');
  assert.equal(warned.length, 2);
  assert.equal(warned[0]!.level, 'warn');
  assert.deepEqual(warned[0]!.obj, { user: 'dave', host: HOST, address: '127.0.0.2', retryAfterMs });
  // Elsewhere dave gets in: the lock is this user at this address.
  assert.equal(await accounts.query(auth('Dave', 'd1'), { address: '127.0.0.3' }), false, 'the script tells spellings apart');
  assert.equal(await accounts.query(auth('dave', 'd1'), { address: '127.0.0.3' }), true);
});

test('input that cannot be sent counts as a failed guess; a script that dies counts for nothing', async (t) => {
  const { accounts, s } = await service(t, { [HOST]: { alice: 'a1', crash: 'c1' } }, 'auth_failure_limit_user = 2\nauth_failure_limit_address = 2\nauth_failure_window = 600');
  const from = { address: '127.0.0.4' };
  // The script dies on every query about "crash": errors, not wrong passwords.
  for (let i = 0; i < 3; i++) assert.equal(await outcome(accounts.query(auth('crash', 'c1'), from)), 'ERR_EXTAUTH_EXITED');
  assert.equal(await accounts.query(auth('alice', 'a1'), from), true, 'the address is not throttled');
  // A newline in the password would smuggle a second query: refused unsent, counted.
  assert.equal(await outcome(accounts.query(auth('alice', 'x\nauth:alice:localhost:a1'), from)), 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal(await outcome(accounts.query(auth('alice', 'y\n'), from)), 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal(await outcome(accounts.query(auth('alice', 'a1'), from)), 'ERR_AUTH_THROTTLED');
  assert.ok(!s.asked().some((q) => q.startsWith('auth:alice:localhost:x') || q.startsWith('auth:alice:localhost:y')));
  // The address is throttled for password checks only: a lookup from it is still answered.
  assert.equal(await accounts.query({ command: 'isuser', user: 'alice', host: HOST }, from), true);
  // An unsendable name of a command that checks no password counts nothing.
  const other = { address: '127.0.0.5' };
  for (let i = 0; i < 3; i++) assert.equal(await outcome(accounts.query({ command: 'isuser', user: 'a\nb', host: HOST }, other)), 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal(await accounts.query(auth('alice', 'a1'), other), true);
});

test('a success clears the user at that address and the address, never the user’s failures from everywhere', async (t) => {
  const { accounts } = await service(
    t,
    { [HOST]: { alice: 'a1', bob: 'b1', carol: 'c1' } },
    'auth_failure_limit_user = 2\nauth_failure_limit_address = 3\nauth_failure_window = 600',
  );
  const from = { address: '127.0.1.1' };
  // alice: fail, succeed, fail: one failure counted at this address, not two.
  assert.equal(await accounts.query(auth('alice', 'w'), from), false);
  assert.equal(await accounts.query(auth('bob', 'w'), from), false);
  assert.equal(await accounts.query(auth('alice', 'a1'), from), true);
  assert.equal(await accounts.query(auth('alice', 'w'), from), false);
  // The address: two failures before the success are forgotten too, so two more are allowed.
  assert.equal(await accounts.query(auth('carol', 'w'), from), false);
  assert.equal(await accounts.query(auth('alice', 'a1'), from), true, 'alice at this address: one failure, limit 2');
  assert.equal(await accounts.query(auth('bob', 'b1'), from), true, 'the address: below its limit');

  // A guesser spread over addresses: 20 failures of carol (10 × her limit) from 10 addresses.
  for (let a = 1; a <= 10; a++) {
    assert.equal(await accounts.query(auth('carol', 'x'), { address: `192.0.2.${a}` }), false);
    assert.equal(await accounts.query(auth('carol', 'y'), { address: `198.51.100.${a}` }), false);
  }
  assert.equal(await accounts.query(auth('carol', 'z'), { address: '203.0.113.1' }), false, 'one guess for a new address');
  // The real carol signs in from a clean address: that does not give the guessers their guesses back.
  assert.equal(await accounts.query(auth('carol', 'c1'), { address: '203.0.113.9' }), true);
  assert.equal(await outcome(accounts.query(auth('carol', 'c1'), { address: '203.0.113.1' })), 'ERR_AUTH_THROTTLED');
  assert.equal(await outcome(accounts.query(auth('carol', 'c1'), { address: '192.0.2.5' })), 'ERR_AUTH_THROTTLED');
});

test('a face without the client’s address counts apart from those with one', async (t) => {
  const { accounts } = await service(t, { [HOST]: { alice: 'a1' } }, 'auth_failure_limit_user = 2\nauth_failure_limit_address = 2\nauth_failure_window = 600\nauth_failure_backoff_max = 600');
  // Login-page failures from one address do not lock the XMPP server's logins (no address) ...
  assert.equal(await accounts.query(auth('alice', 'w1'), { address: '127.0.2.1' }), false);
  assert.equal(await accounts.query(auth('alice', 'w2'), { address: '127.0.2.1' }), false);
  assert.equal(await outcome(accounts.query(auth('alice', 'a1'), { address: '127.0.2.1' })), 'ERR_AUTH_THROTTLED');
  assert.equal(await accounts.query(auth('alice', 'a1')), true);
  // ... and the reverse: the nameless face's failures lock only that face, with a short delay.
  assert.equal(await accounts.query(auth('alice', 'w3')), false);
  assert.equal(await accounts.query(auth('alice', 'w4')), false);
  const err = await accounts.query(auth('alice', 'a1')).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'ERR_AUTH_THROTTLED');
  const wait = (err as { retryAfterMs: number }).retryAfterMs;
  assert.ok(wait > 0 && wait <= 1000, `a delay of at most a second after the last failure, not the window: ${wait}`);
  assert.equal(await accounts.query(auth('alice', 'a1'), { address: '127.0.2.2' }), true);
});

test('a token logs its own user in without asking the script, even while that user is throttled; a guess never does', async (t) => {
  const { accounts, store, s } = await service(t, { [HOST]: { alice: 'right', bob: 'bobs' } }, 'auth_failure_limit_user = 2\nauth_failure_window = 600');
  const { token } = await holdToken(store, 'alice');
  const from = { address: '127.0.0.9' };
  assert.equal(await accounts.query(auth('alice', 'w1'), from), false);
  assert.equal(await accounts.query(auth('alice', 'w2'), from), false);
  assert.equal(await outcome(accounts.query(auth('alice', 'right'), from)), 'ERR_AUTH_THROTTLED', 'the right password waits');
  // A guesser cannot lock the holder of a token out (nor does the token reach the script).
  assert.equal(await accounts.query(auth('alice', token), from), true);
  assert.equal(await outcome(accounts.query(auth('alice', 'right'), from)), 'ERR_AUTH_THROTTLED', 'a token login clears no count');
  // Someone else's token is just a wrong password for bob: asked, refused, counted.
  assert.equal(await accounts.query(auth('bob', token), from), false);
  assert.equal(s.asked().filter((q) => q.includes(token)).length, 1, 'only as bob’s password');
  assert.deepEqual(
    s.asked().map((q) => q.split(':').slice(0, 2).join(':')),
    ['auth:alice', 'auth:alice', 'auth:bob'],
  );
});

test('a host without a script refuses even a live access token of its own: not configured, never a yes', async (t) => {
  // The script serves another host only (as after a reload that took this host's script away
  // while its tokens live): this host's logins have no account source to answer for.
  const { accounts, store, s } = await service(t, { 'other.example': { alice: 'o1' } }, '', {}, { scriptHost: 'other.example' });
  const { token } = await holdToken(store, 'alice');
  assert.equal(await outcome(accounts.query(auth('alice', token))), 'ERR_AUTH_NOT_CONFIGURED');
  // Positive control: the script's host is answered.
  assert.equal(await accounts.query(auth('alice', 'o1', 'other.example')), true);
  assert.deepEqual(s.asked().map((q) => q.split(':').slice(0, 3).join(':')), ['auth:alice:other.example']);
});

test('the positive cache never answers for a password changed through the service, nor for a throttled user', async (t) => {
  const { accounts, s } = await service(t, { [HOST]: { alice: 'a1' } }, 'external_auth_cache_ttl = 600\nauth_failure_limit_user = 2\nauth_failure_window = 600');
  assert.equal(await accounts.query(auth('alice', 'a1')), true);
  assert.equal(await accounts.query(auth('alice', 'a1')), true);
  assert.equal(s.asked().length, 1, 'the second yes came from the cache');
  // Locked at an address: the cached yes is not consulted there.
  const from = { address: '127.0.7.1' };
  assert.equal(await accounts.query(auth('alice', 'w1'), from), false);
  assert.equal(await accounts.query(auth('alice', 'w2'), from), false);
  assert.equal(await outcome(accounts.query(auth('alice', 'a1'), from)), 'ERR_AUTH_THROTTLED');
  // A new password: the old one is asked again, and refused.
  assert.equal(await accounts.query({ command: 'setpass', user: 'alice', host: HOST, password: 'a2' }), true);
  assert.equal(await accounts.query(auth('alice', 'a1')), false);
  assert.equal(await accounts.query(auth('alice', 'a2')), true);
});

test('a caller that stopped waiting gets no answer: its signal and deadline reach the script’s queue', async (t) => {
  const { accounts, s } = await service(t, { [HOST]: { alice: 'a1' } });
  assert.equal(await outcome(accounts.query(auth('alice', 'a1'), { signal: AbortSignal.abort() })), 'ERR_EXTAUTH_ABORTED');
  assert.equal(await outcome(accounts.query(auth('alice', 'a1'), { deadline: performance.now() - 1 })), 'ERR_EXTAUTH_DEADLINE');
  assert.deepEqual(s.asked(), [], 'neither was sent');
  // A caller still waiting gets its answer.
  assert.equal(await accounts.query(auth('alice', 'a1'), { signal: new AbortController().signal, deadline: performance.now() + 60_000 }), true);
});
