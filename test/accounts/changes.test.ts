/**
 * Grants follow the account (DESIGN.md), at the account service: someone holds an access token
 * (used as an XMPP password) and the account then changes through the script (setpass,
 * removeuser, removeuser3, tryregister). The token must stop working, also when the script's
 * answer was lost after the query was sent, and a change the store cannot follow up is a
 * temporary failure, never a yes. A refusal, a read-only command, or input never sent ends
 * nothing.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ACCOUNT_CHANGES } from '../../src/accounts/lifecycle.js';
import { auth, HOST, holdToken, revoked, service } from '../helpers/accounts.js';
import { outcome } from '../helpers/engine.js';

test('every account change through the script ends the user’s grants; a refusal and a read-only command end nothing', async (t) => {
  const { accounts, store, log, s } = await service(t, { [HOST]: { alice: 'a1', bob: 'b1', carol: 'c1', dave: 'd1' } }, '', { USERS_MIN_PASSWORD: '3' });
  const held = {
    alice: await holdToken(store, 'alice'),
    bob: await holdToken(store, 'bob'),
    carol: await holdToken(store, 'carol'),
    erin: await holdToken(store, 'erin'),
    dave: await holdToken(store, 'dave'),
  };
  // Nothing changes an account: every grant stays, every token still logs in.
  assert.equal(await accounts.query(auth('alice', 'a1')), true);
  assert.equal(await accounts.query({ command: 'isuser', user: 'alice', host: HOST }), true);
  assert.equal(await accounts.query({ command: 'setpass', user: 'alice', host: HOST, password: 'no' }), false, 'too short for the script');
  assert.equal(await accounts.query({ command: 'tryregister', user: 'bob', host: HOST, password: 'taken' }), false, 'bob exists');
  assert.equal(await accounts.query({ command: 'removeuser', user: 'erin', host: HOST }), false, 'no such account');
  assert.equal(await accounts.query({ command: 'removeuser3', user: 'carol', host: HOST, password: 'wrong' }), false);
  for (const [user, h] of Object.entries(held)) {
    assert.equal(await revoked(store, h.grant), false, `${user}'s grant`);
    assert.equal(await accounts.query(auth(user, h.token)), true, `${user}'s token`);
  }
  assert.equal(log.entries.filter((e) => e.msg?.startsWith('account changed')).length, 0);

  const gen = (user: string) => store.accountGeneration(HOST, user);
  const before = { alice: await gen('alice'), bob: await gen('bob'), carol: await gen('carol'), erin: await gen('erin'), dave: await gen('dave') };
  // The password changes: the old token is refused, the old password too; the name is the same subject.
  assert.equal(await accounts.query({ command: 'setpass', user: 'alice', host: HOST, password: 'a2-new' }), true);
  assert.equal(await revoked(store, held.alice.grant), true);
  assert.equal(await accounts.query(auth('alice', held.alice.token)), false, 'the token died with its grant');
  assert.equal(await gen('alice'), before.alice, 'a new password is not a new account');
  // Removed, with or without its password; registered under a free name: a new subject each time.
  assert.equal(await accounts.query({ command: 'removeuser', user: 'bob', host: HOST }), true);
  assert.equal(await accounts.query({ command: 'removeuser3', user: 'carol', host: HOST, password: 'c1' }), true);
  assert.equal(await accounts.query({ command: 'tryregister', user: 'erin', host: HOST, password: 'e1-new' }), true);
  for (const user of ['bob', 'carol', 'erin'] as const) {
    assert.equal(await revoked(store, held[user].grant), true, `${user}'s grant`);
    assert.equal(await gen(user), before[user] + 1, `${user} is a new subject`);
  }
  assert.equal(await revoked(store, held.dave.grant), false, 'another user keeps his');
  assert.equal(await accounts.query(auth('dave', held.dave.token)), true);
  assert.deepEqual(s.users()[HOST], { alice: 'a2-new', dave: 'd1', erin: 'e1-new' });
  // Each change followed up once, with its kind (lifecycle.ts ACCOUNT_CHANGES).
  assert.deepEqual(
    log.entries.filter((e) => e.msg?.startsWith('account changed')).map((e) => [e.obj['user'], e.obj['change'], e.obj['outcome']]),
    [
      ['alice', 'password', 'done'],
      ['bob', 'removed', 'done'],
      ['carol', 'removed', 'done'],
      ['erin', 'registered', 'done'],
    ],
  );
});

test('the kinds of account change: only the four commands that change an account, each with its kind', () => {
  assert.deepEqual({ ...ACCOUNT_CHANGES }, { setpass: 'password', removeuser: 'removed', removeuser3: 'removed', tryregister: 'registered' });
  // No inherited entry: a command named like an Object method is not an account change.
  assert.equal(Object.getPrototypeOf(ACCOUNT_CHANGES), null);
  assert.equal((ACCOUNT_CHANGES as Record<string, unknown>)['constructor'], undefined);
  assert.ok(Object.isFrozen(ACCOUNT_CHANGES));
});

test('a change whose answer was lost after it was sent is followed up as possible; one never sent is not', async (t) => {
  // users-file.mjs exits without answering any query about the user "crash".
  const { accounts, store, log } = await service(t, { [HOST]: { crash: 'c1', alice: 'a1' } });
  const crash = await holdToken(store, 'crash');
  const alice = await holdToken(store, 'alice');
  const generation = await store.accountGeneration(HOST, 'crash');
  assert.equal(await outcome(accounts.query({ command: 'removeuser', user: 'crash', host: HOST })), 'ERR_EXTAUTH_EXITED');
  assert.equal(await revoked(store, crash.grant), true, 'the account may be gone: its grants end');
  assert.equal(await store.accountGeneration(HOST, 'crash'), generation, 'but it is not known to be a new account');
  assert.deepEqual(
    log.entries.filter((e) => e.msg?.startsWith('account changed')).map((e) => [e.obj['user'], e.obj['change'], e.obj['outcome']]),
    [['crash', 'removed', 'unknown']],
  );
  // The pool's log names the script by its interpreter and file only, never its arguments.
  const pool = log.entries.filter((e) => e.msg?.includes('ended before giving any good answer'));
  assert.equal(pool.length, 1);
  assert.equal(pool[0]!.obj['engine'], 'node auth-script.mjs');
  assert.ok(!log.text().includes('USERS_FILE'), 'no argument of the script in the log');
  // A lost answer to a question that changes nothing ends nothing.
  const again = await holdToken(store, 'crash');
  assert.equal(await outcome(accounts.query({ command: 'isuser', user: 'crash', host: HOST })), 'ERR_EXTAUTH_EXITED');
  assert.equal(await revoked(store, again.grant), false);
  // Input that cannot be sent (a newline would start a second query) never reached the script.
  assert.equal(await outcome(accounts.query({ command: 'setpass', user: 'alice', host: HOST, password: 'x\nsetpass:bob:localhost:y' })), 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal(await revoked(store, alice.grant), false);
  assert.equal(await accounts.query(auth('alice', alice.token)), true);
});

test('an account change the store cannot follow up is a temporary failure, never a yes', async (t) => {
  const { accounts, store, log, s } = await service(t, { [HOST]: { Alice: 'A1', alice: 'a1', crash: 'c1' } });
  await holdToken(store, 'alice');
  await store.close();
  const err = await accounts.query({ command: 'setpass', user: 'Alice', host: HOST, password: 'New-Secret-2' }).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'ERR_AUTH_LIFECYCLE');
  assert.equal((err as Error).message, "the account was changed, but the user's OAuth grants and sessions could not be revoked");
  // The script changed the password of `Alice` (it tells spellings apart, the store does not).
  assert.deepEqual(s.asked(), ['setpass:Alice:localhost:New-Secret-2']);
  assert.equal(s.users()[HOST]!['Alice'], 'New-Secret-2');
  const errors = log.entries.filter((e) => e.level === 'error');
  assert.equal(errors.length, 1);
  assert.equal(errors[0]!.msg, "account changed but its OAuth grants and sessions were not revoked: answering a temporary failure");
  assert.deepEqual(
    { command: errors[0]!.obj['command'], user: errors[0]!.obj['user'], host: errors[0]!.obj['host'], outcome: errors[0]!.obj['outcome'] },
    { command: 'setpass', user: 'alice', host: HOST, outcome: 'done' },
  );
  assert.equal(typeof errors[0]!.obj['err'], 'string');
  assert.ok((errors[0]!.obj['err'] as string).length > 0);
  assert.ok(!log.text().includes('New-Secret-2'), 'never the password');
  // The answer lost: the same temporary failure, not the engine's error.
  assert.equal(await outcome(accounts.query({ command: 'removeuser', user: 'crash', host: HOST })), 'ERR_AUTH_LIFECYCLE');
  // A read-only command does not need the hook.
  assert.equal(await accounts.query({ command: 'isuser', user: 'alice', host: HOST }), true);
});
