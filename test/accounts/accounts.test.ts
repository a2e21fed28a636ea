/**
 * The account service every face asks (src/accounts/accounts.ts), driven directly: a real auth
 * script (test/fixtures/users-file.mjs, whose accounts live in a JSON file, one process),
 * the real OAuth token check and lifecycle hook over a real store (SQLite in a temporary
 * directory; PostgreSQL at 127.0.0.1:5432 for the failure counters several instances share).
 *
 * The attacks tried:
 *  - someone holds an access token (used as an XMPP password) and the account then changes
 *    through the script (setpass, removeuser, removeuser3, tryregister): the token must stop
 *    working, also when the script's answer was lost after the query was sent, and a change the
 *    store cannot follow up is a temporary failure, never a yes (DESIGN.md "Grants follow the
 *    account");
 *  - a guesser: every password check (auth, removeuser3) counts, under every spelling of the
 *    name, input that cannot be sent counts like a wrong password, a throttled attempt never
 *    reaches the script even with the right password, and a success gives back only what the
 *    header comment of accounts.ts says;
 *  - a question that cannot be answered (no script for the host, a command the script does not
 *    implement, a script that dies) is an error, never a yes.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { pathToFileURL } from 'node:url';
import { Accounts } from '../../src/accounts/accounts.js';
import { ACCOUNT_CHANGES } from '../../src/accounts/lifecycle.js';
import { parseConfigText } from '../../src/config/load.js';
import type { Query } from '../../src/extauth/query.js';
import { accountLifecycle } from '../../src/oauth/lifecycle.js';
import { tokenVerifier } from '../../src/oauth/token-password.js';
import { hashSecret, newSecret } from '../../src/oauth/tokens/secrets.js';
import { openPostgresStore } from '../../src/storage/postgres.js';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';
import type { Grant, OAuthStore } from '../../src/storage/port.js';
import { outcome } from '../helpers/engine.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';
import { createTestSchema } from '../helpers/postgres.js';
import { grantRecord, tokenRecord } from '../helpers/storage-records.js';

type Users = Record<string, Record<string, string>>;

const HOST = 'localhost';

/**
 * users-file.mjs reads its settings from the environment; this wrapper takes them as
 * `NAME=value` arguments instead, so each test's script has its own files, and the log's short
 * name of the script (the interpreter and this file) can be checked never to show them.
 */
const WRAPPER = `for (const arg of process.argv.slice(2)) {
  const i = arg.indexOf('=');
  process.env[arg.slice(0, i)] = arg.slice(i + 1);
}
await import(${JSON.stringify(pathToFileURL(fixture('users-file.mjs')).href)});
`;

interface Script {
  dir: string;
  /** The `external_auth_command` line of a configuration. */
  command: string;
  users(): Users;
  /** Every query the script received, as text, oldest first. */
  asked(): string[];
}

function script(t: TestContext, users: Users, env: Record<string, string> = {}): Script {
  const dir = mkdtempSync(join(tmpdir(), 'gh-accounts-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const wrapper = join(dir, 'auth-script.mjs');
  writeFileSync(wrapper, WRAPPER);
  const usersFile = join(dir, 'users.json');
  writeFileSync(usersFile, JSON.stringify(users));
  const recordFile = join(dir, 'queries.hex');
  const args = [process.execPath, wrapper, `USERS_FILE=${usersFile}`, `RECORD_FILE=${recordFile}`, ...Object.entries(env).map(([k, v]) => `${k}=${v}`)];
  return {
    dir,
    command: `external_auth_command = ${JSON.stringify(args)}\nexternal_auth_timeout = 30\nexternal_auth_processes = 1`,
    users: () => JSON.parse(readFileSync(usersFile, 'utf8')) as Users,
    asked: () =>
      existsSync(recordFile)
        ? readFileSync(recordFile, 'utf8')
            .split('\n')
            .filter((l) => l !== '')
            .map((l) => Buffer.from(l, 'hex').toString('utf8'))
        : [],
  };
}

interface Service {
  accounts: Accounts;
  store: OAuthStore;
  log: MemoryLogger;
  s: Script;
}

/** Accounts as `gatehouse serve` wires them for an OAuth host over SQLite (server/services.ts). */
async function service(t: TestContext, users: Users, extra = '', env: Record<string, string> = {}): Promise<Service> {
  const s = script(t, users, env);
  const store = await openSqliteStore(join(s.dir, 'gatehouse.sqlite'));
  const log = new MemoryLogger();
  const names = new Set([HOST]);
  const accounts = new Accounts(parseConfigText(`${s.command}\n${extra}`), log, tokenVerifier(store, names), undefined, accountLifecycle(store, names, log));
  // Registered after the directory's removal, so run before it: the script ends first.
  t.after(async () => {
    await accounts.close({ force: true });
    // A test may have closed it already, to make the store fail.
    await store.close().catch(() => {});
  });
  return { accounts, store, log, s };
}

/** A live grant of `user` with an access token allowing XMPP logins: the token, used as a password. */
async function holdToken(store: OAuthStore, user: string): Promise<{ grant: Grant; token: string }> {
  const now = Date.now();
  const grant = grantRecord({ host: HOST, user, scope: 'xmpp', createdAt: now, lastUsedAt: now, authTime: now, generation: await store.accountGeneration(HOST, user) });
  await store.createGrant(grant);
  const token = newSecret();
  await store.saveToken(tokenRecord(grant.id, { hash: hashSecret(token), kind: 'access', scope: 'xmpp', createdAt: now, expiresAt: now + 3_600_000 }));
  return { grant, token };
}

async function revoked(store: OAuthStore, grant: Grant): Promise<boolean> {
  return (await store.getGrant(grant.id))!.revokedAt !== null;
}

const auth = (user: string, password: string, host = HOST): Query => ({ command: 'auth', user, host, password });

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

test('hosts: their own scripts and commands; a host without a script or a command the script lacks is an error, never asked', async (t) => {
  const a = script(t, { 'a.example': { alice: 'a1' } });
  const b = script(t, { 'b.example': { alice: 'b1' } });
  const config = parseConfigText(`auth_failure_limit_address = 2
auth_failure_window = 600
[hosts."a.example"]
${a.command}
external_auth_commands = ["auth", "isuser"]
[hosts."b.example"]
${b.command.replace('external_auth_processes = 1', 'external_auth_processes = 2')}
external_auth_queue_limit = 7
`);
  const accounts = new Accounts(config);
  t.after(() => accounts.close({ force: true }));
  assert.equal(accounts.engines().length, 2);
  assert.equal(accounts.engineFor('nowhere.example'), null);
  const ea = accounts.engineFor('a.example')!;
  const eb = accounts.engineFor('b.example')!;
  assert.notEqual(ea, eb);
  assert.deepEqual(new Set(accounts.engines()), new Set([ea, eb]));
  assert.notEqual(ea.capacity, eb.capacity);
  assert.equal(accounts.capacity, Math.min(ea.capacity, eb.capacity));
  assert.equal(accounts.hostConfig('b.example').extauth.queueLimit, 7);
  assert.deepEqual(accounts.hostConfig('a.example').extauth.commands, ['auth', 'isuser']);
  assert.equal(accounts.hostConfig('nowhere.example').extauth.command, null);
  assert.equal(accounts.config, config);

  const answered: string[] = [];
  accounts.onQuery((command, result) => answered.push(`${command} ${result}`));
  assert.equal(await accounts.query(auth('alice', 'a1', 'a.example')), true);
  assert.equal(await accounts.query(auth('alice', 'b1', 'b.example')), true);
  assert.equal(await accounts.query(auth('alice', 'b1', 'a.example')), false, 'each host its own accounts');
  assert.deepEqual(answered, ['auth yes', 'auth yes', 'auth no']);
  // A command a.example's script does not implement: refused, never sent.
  const err = await accounts.query({ command: 'setpass', user: 'alice', host: 'a.example', password: 'new' }).catch((e: unknown) => e);
  assert.equal((err as { code?: string }).code, 'ERR_EXTAUTH_UNSUPPORTED');
  assert.equal((err as Error).message, 'the auth script does not implement setpass');
  assert.equal(await accounts.query({ command: 'setpass', user: 'alice', host: 'b.example', password: 'new' }), true);
  assert.deepEqual(a.users(), { 'a.example': { alice: 'a1' } });
  assert.equal(a.asked().length, 2);
  // No script for the host: an error, and an unknown user is never a yes.
  assert.equal(await outcome(accounts.query(auth('alice', 'a1', 'nowhere.example'))), 'ERR_AUTH_NOT_CONFIGURED');
  assert.equal(await outcome(accounts.query({ command: 'isuser', user: 'alice', host: 'nowhere.example' })), 'ERR_AUTH_NOT_CONFIGURED');

  // Counts are per host: the address failing on a.example is not throttled on b.example.
  const from = { address: '127.0.3.1' };
  assert.equal(await accounts.query(auth('x', 'w', 'a.example'), from), false);
  assert.equal(await accounts.query(auth('y', 'w', 'a.example'), from), false);
  assert.equal(await outcome(accounts.query(auth('alice', 'a1', 'a.example'), from)), 'ERR_AUTH_THROTTLED');
  assert.equal(await accounts.query(auth('alice', 'new', 'b.example'), from), true);
});

test('without any script every question is an error, and the capacity is unbounded', async (t) => {
  const accounts = new Accounts(parseConfigText(''));
  t.after(() => accounts.close());
  assert.deepEqual(accounts.engines(), []);
  assert.equal(accounts.capacity, Infinity);
  assert.equal(await outcome(accounts.query(auth('alice', 'secret'))), 'ERR_AUTH_NOT_CONFIGURED');
});

test('reload: the report, listeners carried to the new pools, counts kept only where the limits stayed', async (t) => {
  const a = script(t, { 'a.example': { alice: 'a1' }, 'b.example': { alice: 'b1' }, 'c.example': { alice: 'c1' } });
  const text = (limitA: number, backoffB: number) => `auth_failure_window = 600
[hosts."a.example"]
${a.command}
auth_failure_limit_user = ${limitA}
[hosts."b.example"]
${a.command.replace('external_auth_processes = 1', 'external_auth_processes = 2')}
auth_failure_limit_user = 2
auth_failure_backoff_max = ${backoffB}
[hosts."c.example"]
${a.command.replace('external_auth_processes = 1', 'external_auth_processes = 2')}
auth_failure_limit_user = 2
auth_failure_backoff_max = ${backoffB}
`;
  const accounts = new Accounts(parseConfigText(text(2, 600)));
  t.after(() => accounts.close({ force: true }));
  const answered: string[] = [];
  accounts.onQuery((command, result) => answered.push(`${command} ${result}`));
  const from = { address: '127.0.4.1' };
  for (const host of ['a.example', 'b.example']) {
    assert.equal(await accounts.query(auth('alice', 'w1', host), from), false);
    assert.equal(await accounts.query(auth('alice', 'w2', host), from), false);
    assert.equal(await outcome(accounts.query(auth('alice', 'x', host), from)), 'ERR_AUTH_THROTTLED');
    assert.equal(await accounts.query(auth('alice', 'w1', host)), false);
    assert.equal(await accounts.query(auth('alice', 'w2', host)), false);
    assert.equal(await outcome(accounts.query(auth('alice', 'x', host))), 'ERR_AUTH_THROTTLED');
  }
  const old = accounts.engines();
  // a.example's user limit changes (its counts start over); b.example's backoff cap changes
  // (its nameless counts start over, those with an address are kept). c.example has the same
  // limits as b.example and no failures: each host keeps its own counts.
  const report = await accounts.reload(parseConfigText(text(3, 300)), { settleMs: 100, readyTimeoutMs: 30_000 });
  assert.deepEqual(report, { engines: 2, processes: 3, retired: 2 });
  assert.ok(accounts.engines().every((e) => !old.includes(e)));
  answered.length = 0;
  assert.equal(await accounts.query(auth('alice', 'a1', 'a.example'), from), true, 'a new limit: counted afresh');
  assert.equal(await outcome(accounts.query(auth('alice', 'b1', 'b.example'), from)), 'ERR_AUTH_THROTTLED', 'the same limits: still locked');
  assert.equal(await accounts.query(auth('alice', 'c1', 'c.example'), from), true, 'never locked');
  assert.equal(await accounts.query(auth('alice', 'b1', 'b.example')), true, 'a new backoff cap: counted afresh');
  assert.deepEqual(answered, ['auth yes', 'auth yes', 'auth yes'], 'a listener follows the new pools');
  // A listener added now hears the present pools.
  const later: string[] = [];
  accounts.onQuery((command, result) => later.push(`${command} ${result}`));
  assert.equal(await accounts.query({ command: 'isuser', user: 'alice', host: 'a.example' }), true);
  assert.deepEqual(later, ['isuser yes']);
});

test('PostgreSQL: instances sharing the database count failures together, per host', async (t) => {
  const schema = await createTestSchema();
  t.after(() => schema.drop());
  const s = script(t, { [HOST]: { alice: 'a1' }, 'b.example': { alice: 'b1' } });
  const config = parseConfigText(`${s.command}
auth_failure_limit_user = 2
auth_failure_limit_address = 3
auth_failure_window = 600
[hosts."b.example"]
auth_failure_limit_user = 2
`);
  const stores = [await openPostgresStore(schema.url), await openPostgresStore(schema.url)];
  const instances = stores.map((store) => new Accounts(config, undefined, undefined, store));
  t.after(async () => {
    for (const i of instances) await i.close({ force: true });
    for (const store of stores) await store.close();
  });
  const [one, two] = instances as [Accounts, Accounts];
  const from = { address: '127.0.5.1' };
  // A guesser alternating between the instances is locked as on one.
  assert.equal(await one.query(auth('alice', 'w1'), from), false);
  assert.equal(await two.query(auth('alice', 'w2'), from), false);
  assert.equal(await outcome(one.query(auth('alice', 'a1'), from)), 'ERR_AUTH_THROTTLED');
  assert.equal(await outcome(two.query(auth('alice', 'a1'), from)), 'ERR_AUTH_THROTTLED');
  // Another host's counts are its own, for the user and for the address.
  assert.equal(await two.query(auth('alice', 'w3', 'b.example'), from), false);
  assert.equal(await one.query(auth('alice', 'b1', 'b.example'), from), true);
  assert.equal(await one.query(auth('bob', 'w4'), from), false, 'the address: its third failure on localhost');
  assert.equal(await outcome(two.query(auth('carol', 'c1'), from)), 'ERR_AUTH_THROTTLED', 'the address is locked on localhost');
  assert.equal(await one.query(auth('carol', 'c1', 'b.example'), from), false, 'not on b.example: asked');
});
