/**
 * The mod_auth_http contract (prosody-modules, mod_auth_http README), request by request,
 * against a real server and a real auth script.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mock, test } from 'node:test';
import Database from 'better-sqlite3';
import { Accounts } from '../../src/accounts/accounts.js';
import { parseConfigText } from '../../src/config/load.js';
import { buildApp } from '../../src/server/http-app.js';
import { tokenVerifier } from '../../src/oauth/token-password.js';
import { openSqliteStore } from '../../src/storage/sqlite-open.js';
import { postForm, startHttp } from '../helpers/http.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture } from '../helpers/paths.js';

const script = (name: string) => `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture(name))}]`;
const q = (params: Record<string, string>) => new URLSearchParams(params).toString();
/** What the auth API itself logged (face "authapi"), without the bindings. */
const apiLines = (log: MemoryLogger) =>
  log.entries.filter((e) => e.obj['face'] === 'authapi').map(({ level, msg, obj: { face: _face, ...fields } }) => ({ level, msg, fields }));

test('check_password and user_exists answer 200 with exactly "true" or "false"', async (t) => {
  const { base } = await startHttp(t, script('fast.mjs'));
  const get = async (path: string) => {
    const r = await fetch(`${base}/auth/${path}`);
    return [r.status, await r.text(), r.headers.get('content-type'), r.headers.get('cache-control')];
  };
  assert.deepEqual(await get(`check_password?${q({ user: 'alice', server: 'localhost', pass: 'secret' })}`), [200, 'true', 'text/plain; charset=utf-8', 'no-store']);
  assert.deepEqual((await get(`check_password?${q({ user: 'alice', server: 'localhost', pass: 'nope' })}`)).slice(0, 2), [200, 'false']);
  assert.deepEqual((await get(`check_password?${q({ user: 'alice', server: 'localhost', pass: 'a:b ü€' })}`)).slice(0, 2), [200, 'false']);
  assert.deepEqual((await get(`user_exists?${q({ user: 'alice', server: 'localhost' })}`)).slice(0, 2), [200, 'true']);
  assert.deepEqual((await get(`user_exists?${q({ user: 'nobody1', server: 'localhost' })}`)).slice(0, 2), [200, 'false']);
});

test('a wrong password is logged at info as a refused login, without the password; a right one and user_exists are not', async (t) => {
  const { base, log } = await startHttp(t, script('fast.mjs'));
  const text = async (path: string) => (await fetch(`${base}/auth/${path}`)).text();
  assert.equal(await text(`check_password?${q({ user: 'alice', server: 'localhost', pass: 'secret' })}`), 'true');
  assert.equal(await text(`user_exists?${q({ user: 'nobody2', server: 'localhost' })}`), 'false');
  assert.equal(await text(`user_exists?${q({ user: 'alice', server: 'localhost' })}`), 'true');
  assert.deepEqual(apiLines(log), []);
  assert.equal(await text(`check_password?${q({ user: 'Bob', server: 'localhost', pass: 'guess-1234' })}`), 'false');
  // The user as its identity (the PRECIS-prepared name), the host as sent.
  assert.deepEqual(apiLines(log), [{ level: 'info', msg: 'check_password refused: wrong credentials', fields: { user: 'bob', host: 'localhost' } }]);
  assert.ok(!log.text().includes('guess-1234') && !log.text().includes('secret'));
});

test('register 201, set_password and remove_user 204, with the form spelling Prosody sends', async (t) => {
  const { base } = await startHttp(t, script('fast.mjs'));
  assert.equal((await postForm(`${base}/auth/register`, { user: 'carol', server: 'localhost', pass: 'x' })).status, 201);
  assert.equal((await postForm(`${base}/auth/set_password`, { user: 'carol', server: 'localhost', pass: 'y' })).status, 204);
  assert.equal((await postForm(`${base}/auth/remove_user`, { user: 'carol', server: 'localhost' })).status, 204);
  // The standard spelling works too.
  const r = await fetch(`${base}/auth/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: q({ user: 'dave', server: 'localhost', pass: 'z' }),
  });
  assert.equal(r.status, 201);
});

test('a script saying no: register 409, set_password 403, remove_user 404', async (t) => {
  const { base, log } = await startHttp(t, `${script('late.mjs')}`); // late.mjs says no to everything but "late"
  const answer = async (r: Response) => [r.status, r.headers.get('content-type'), await r.text()];
  assert.deepEqual(await answer(await postForm(`${base}/auth/register`, { user: 'alice', server: 'localhost', pass: 'x' })), [409, 'text/plain', 'user exists or was refused']);
  assert.deepEqual(await answer(await postForm(`${base}/auth/set_password`, { user: 'alice', server: 'localhost', pass: 'x' })), [403, 'text/plain', 'refused by the auth script']);
  assert.deepEqual(await answer(await postForm(`${base}/auth/remove_user`, { user: 'alice', server: 'localhost' })), [404, 'text/plain', 'no such user or refused']);
  assert.deepEqual(await answer(await fetch(`${base}/auth/user_exists?${q({ user: 'alice', server: 'localhost' })}`)), [200, 'text/plain; charset=utf-8', 'false']);
  // A "no" to a command that is not a password check is not a refused login.
  assert.deepEqual(apiLines(log), []);
  // Positive control: the same script's "no" to a password is.
  assert.equal(await (await fetch(`${base}/auth/check_password?${q({ user: 'alice', server: 'localhost', pass: 'x' })}`)).text(), 'false');
  assert.deepEqual(apiLines(log), [{ level: 'info', msg: 'check_password refused: wrong credentials', fields: { user: 'alice', host: 'localhost' } }]);
});

test('501 for what the script does not implement, without asking it', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-api-'));
  process.env['RECORD_FILE'] = join(dir, 'q.hex');
  t.after(() => delete process.env['RECORD_FILE']);
  const { base, log } = await startHttp(t, `${script('fast.mjs')}\nexternal_auth_commands = ["auth", "isuser"]`);
  const register = await postForm(`${base}/auth/register`, { user: 'e', server: 'localhost', pass: 'x' });
  assert.deepEqual(
    [register.status, register.headers.get('content-type'), register.headers.get('retry-after'), await register.text()],
    [501, 'text/plain; charset=utf-8', null, 'the auth script does not implement tryregister'],
  );
  assert.equal((await postForm(`${base}/auth/set_password`, { user: 'e', server: 'localhost', pass: 'x' })).status, 501);
  assert.equal((await postForm(`${base}/auth/remove_user`, { user: 'e', server: 'localhost' })).status, 501);
  assert.ok(!existsSync(join(dir, 'q.hex')), 'the script was asked');
  // A configuration that leaves a command out is not an incident: nothing to log per request.
  assert.deepEqual(apiLines(log), []);
  // Positive control: a command the script implements is sent, and recorded.
  assert.equal(await (await fetch(`${base}/auth/user_exists?${q({ user: 'e', server: 'localhost' })}`)).text(), 'true'); // fast.mjs: every user exists
  assert.deepEqual(recorded(join(dir, 'q.hex')), ['isuser:e:localhost']);
});

test('503 when the engine cannot answer; never true', async (t) => {
  const { base, log } = await startHttp(t, script('lying.mjs'));
  const r = await fetch(`${base}/auth/check_password?${q({ user: 'alice', server: 'localhost', pass: 'secret' })}`);
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(await r.text(), 'temporarily unavailable');
  // Asking again may work: a warning with the cause, not an error, and not a refused login.
  assert.deepEqual(apiLines(log), [
    {
      level: 'warn',
      msg: 'auth API: no answer: more than one reply for one query',
      fields: { command: 'auth', user: 'alice', host: 'localhost', code: 'ERR_EXTAUTH_BAD_REPLY' },
    },
  ]);
  assert.ok(!log.text().includes('secret'));
});

test('a password with a newline is refused with 400 and never forwarded', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-api-'));
  const rec = join(dir, 'q.hex');
  process.env['RECORD_FILE'] = rec;
  t.after(() => delete process.env['RECORD_FILE']);
  const { base, log } = await startHttp(t, script('fast.mjs'));
  for (const pass of ['x\nsetpass:admin:localhost:owned', 'x\r\nisuser:a:b', 'x\0y']) {
    const r = await fetch(`${base}/auth/check_password?${q({ user: 'alice', server: 'localhost', pass })}`);
    assert.equal(r.status, 400);
    assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
    assert.equal(r.headers.get('retry-after'), null, 'the same input will never work');
    assert.equal(await r.text(), 'password contains CR, LF or NUL');
    assert.equal((await postForm(`${base}/auth/set_password`, { user: 'admin', server: 'localhost', pass })).status, 400);
  }
  const colon = await fetch(`${base}/auth/user_exists?${q({ user: 'a:b', server: 'localhost' })}`);
  assert.equal(colon.status, 400);
  assert.equal(await colon.text(), "user contains ':', CR, LF or NUL");
  assert.ok(!existsSync(rec) || readFileSync(rec, 'utf8') === '');
  assert.ok(!log.text().includes('owned'));
  // Each refusal is logged at info with the field that was refused, and none as a refused login.
  const refused = (command: string, user: string, field: string, what: string) => ({
    level: 'info',
    msg: `auth API refused invalid input: ${what}`,
    fields: { command, user, host: 'localhost', code: 'ERR_EXTAUTH_INVALID_INPUT', field },
  });
  const password = [refused('auth', 'alice', 'password', 'password contains CR, LF or NUL'), refused('setpass', 'admin', 'password', 'password contains CR, LF or NUL')];
  assert.deepEqual(apiLines(log), [...password, ...password, ...password, refused('isuser', 'a:b', 'user', "user contains ':', CR, LF or NUL")]);
  // Positive control: a clean password is sent, and recorded.
  assert.equal(await (await fetch(`${base}/auth/check_password?${q({ user: 'alice', server: 'localhost', pass: 'secret' })}`)).text(), 'true');
  assert.deepEqual(recorded(rec), ['auth:alice:localhost:secret']);
});

/** The queries a fixture script recorded (test/fixtures/lib/serve.mjs, RECORD_FILE). */
function recorded(file: string): string[] {
  return readFileSync(file, 'utf8').split('\n').filter(Boolean).map((hex) => Buffer.from(hex, 'hex').toString('utf8'));
}

test('missing and repeated parameters are 400', async (t) => {
  const { base } = await startHttp(t, script('fast.mjs'));
  const missing = async (r: Response) => [r.status, r.headers.get('content-type'), await r.text()];
  assert.deepEqual(await missing(await fetch(`${base}/auth/check_password?user=alice&server=localhost`)), [400, 'text/plain; charset=utf-8', 'missing parameter "pass"']);
  assert.deepEqual(await missing(await fetch(`${base}/auth/user_exists?server=localhost`)), [400, 'text/plain; charset=utf-8', 'missing parameter "user"']);
  assert.deepEqual(await missing(await postForm(`${base}/auth/remove_user`, { user: 'alice' })), [400, 'text/plain; charset=utf-8', 'missing parameter "server"']);
  const dup = await fetch(`${base}/auth/check_password?user=alice&server=localhost&pass=wrong&pass=secret`);
  assert.equal(dup.status, 400);
  assert.equal(await dup.text(), 'parameter "pass" given more than once');
  const dupForm = await fetch(`${base}/auth/set_password`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: 'user=alice&server=localhost&pass=a&user=admin',
  });
  assert.equal(dupForm.status, 400);
  const json = await fetch(`${base}/auth/set_password`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"user":"a"}' });
  assert.equal(json.status, 415);
});

test('Basic credentials, when configured, are required and checked', async (t) => {
  const { base, log } = await startHttp(t, `${script('fast.mjs')}\nhttp_auth_credentials = "prosody:s3cret:with:colons"`);
  const url = `${base}/auth/check_password?${q({ user: 'alice', server: 'localhost', pass: 'secret' })}`;
  const basic = (s: string) => ({ authorization: `Basic ${Buffer.from(s).toString('base64')}` });
  const none = await fetch(url);
  assert.equal(none.status, 401);
  assert.equal(none.headers.get('www-authenticate'), 'Basic realm="gatehouse"');
  assert.equal((await fetch(url, { headers: basic('prosody:wrong') })).status, 401);
  assert.equal((await fetch(url, { headers: basic('prosody:s3cret:with:colon') })).status, 401);
  assert.equal((await fetch(url, { headers: { authorization: 'Bearer x' } })).status, 401);
  const ok = await fetch(url, { headers: basic('prosody:s3cret:with:colons') });
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'true');
  assert.ok(log.entries.some((e) => e.msg === 'auth API call refused: bad or missing credentials'));
  // /healthz is outside the API and needs no credentials.
  assert.equal((await fetch(`${base}/healthz`)).status, 200);
});

test('failed logins are throttled per user: 429 with Retry-After, logged without the password', async (t) => {
  const { base, log } = await startHttp(t, `${script('fast.mjs')}\nauth_failure_limit_user = 2\nauth_failure_window = 60`);
  // Past the limit this face (no client address) waits a delay after the last failure: the
  // clock stands still so that the check below falls inside it, however slow the machine.
  mock.timers.enable({ apis: ['Date'], now: Date.now() });
  t.after(() => mock.timers.reset());
  const check = (user: string, pass: string) => fetch(`${base}/auth/check_password?${q({ user, server: 'localhost', pass })}`);
  assert.equal(await (await check('alice', 'bad-guess-1')).text(), 'false');
  assert.equal(await (await check('alice', 'bad-guess-2')).text(), 'false');
  // One second after the last failure (the first step of the backoff): 600 ms are left, which
  // Retry-After gives in whole seconds, rounded up.
  mock.timers.tick(400);
  const r = await check('alice', 'secret');
  assert.equal(r.status, 429);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(await r.text(), 'too many failed attempts; try again later');
  assert.equal(await (await check('bob', 'secret')).text(), 'true', 'other users are not affected');
  assert.ok(!log.text().includes('bad-guess'));
  const refusedLogin = { level: 'info', msg: 'check_password refused: wrong credentials', fields: { user: 'alice', host: 'localhost' } };
  assert.deepEqual(apiLines(log), [
    refusedLogin,
    refusedLogin,
    { level: 'warn', msg: 'auth API refused: too many failures', fields: { command: 'auth', user: 'alice', host: 'localhost', code: 'ERR_AUTH_THROTTLED' } },
  ]);
  // Positive control: once the Retry-After has passed, the right password gets in.
  mock.timers.tick(600);
  const after = await check('alice', 'secret');
  assert.equal(after.status, 200);
  assert.equal(await after.text(), 'true');
});

test('the path prefix is configurable; the security headers are on every response', async (t) => {
  const { base } = await startHttp(t, `${script('fast.mjs')}\nhttp_auth_path = "/api/xmpp-auth"`);
  const r = await fetch(`${base}/api/xmpp-auth/user_exists?user=alice&server=localhost`);
  assert.equal(await r.text(), 'true');
  assert.equal((await fetch(`${base}/auth/user_exists?user=alice&server=localhost`)).status, 404);
  for (const [k, v] of Object.entries({
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    'content-security-policy': "default-src 'self'; frame-ancestors 'none'",
    'x-content-type-options': 'nosniff',
  })) {
    assert.equal(r.headers.get(k), v, k);
  }
});

test('behind a trusted proxy the client address is taken from X-Forwarded-For; otherwise it is ignored', async (t) => {
  const creds = 'http_auth_credentials = "prosody:secret-pw"';
  const proxied = await startHttp(t, `${script('fast.mjs')}\n${creds}\nhttp_trusted_proxies = ["127.0.0.1"]`);
  const direct = await startHttp(t, `${script('fast.mjs')}\n${creds}`);
  const refusedFrom = async (s: { base: string; log: { entries: { msg?: string; obj: Record<string, unknown> }[] } }) => {
    await fetch(`${s.base}/auth/user_exists?user=a&server=localhost`, { headers: { 'x-forwarded-for': '127.0.0.77' } });
    return s.log.entries.find((e) => e.msg === 'auth API call refused: bad or missing credentials')?.obj['address'];
  };
  assert.equal(await refusedFrom(proxied), '127.0.0.77');
  assert.equal(await refusedFrom(direct), '127.0.0.1', 'an untrusted X-Forwarded-For must not pick the address');
});

test('a host without an auth script is 501, like a command the script lacks', async (t) => {
  const { base } = await startHttp(t, `[hosts."a.example"]\n${script('fast.mjs')}`);
  // Positive control: the configured host answers.
  assert.equal(await (await fetch(`${base}/auth/check_password?${q({ user: 'alice', server: 'a.example', pass: 'secret' })}`)).text(), 'true');
  const r = await fetch(`${base}/auth/check_password?${q({ user: 'alice', server: 'z.example', pass: 'secret' })}`);
  assert.equal(r.status, 501);
  assert.equal(await r.text(), 'no auth script is configured for this host');
  const removed = await postForm(`${base}/auth/remove_user`, { user: 'alice', server: 'z.example' });
  assert.equal(removed.status, 501, 'not the 404 that means "no such user"');
});

test('a store that cannot be reached is 503 with Retry-After, never true nor a 500', async (t) => {
  const config = parseConfigText(script('fast.mjs'));
  const log = new MemoryLogger();
  const store = await openSqliteStore(':memory:');
  // The token check (a password shaped like an access token) reads the store; closed, it fails
  // with ERR_STORAGE_CLOSED, which another instance could answer.
  const accounts = new Accounts(config, log, tokenVerifier(store, new Set(['localhost'])));
  const app = await buildApp({ config, accounts, hosts: [], logger: log });
  const base = `${await app.listen({ host: '127.0.0.1', port: 0 })}/auth`;
  t.after(async () => {
    await app.close();
    await accounts.close();
  });
  const token = 'A'.repeat(43);
  // Positive control: with the store open the token is simply not found and the script says no.
  assert.equal(await (await fetch(`${base}/check_password?${q({ user: 'alice', server: 'localhost', pass: token })}`)).text(), 'false');
  await store.close();
  const r = await fetch(`${base}/check_password?${q({ user: 'alice', server: 'localhost', pass: token })}`);
  assert.equal(r.status, 503);
  assert.equal(r.headers.get('retry-after'), '1');
  assert.equal(await r.text(), 'temporarily unavailable');
  assert.ok(log.entries.some((e) => e.obj['code'] === 'ERR_STORAGE_CLOSED'), 'the cause is logged');
});

test('a database that refuses the statement is a 500 "internal error", logged at error, without Retry-After', async (t) => {
  const config = parseConfigText(script('fast.mjs'));
  const log = new MemoryLogger();
  const file = join(mkdtempSync(join(tmpdir(), 'gh-api-')), 'gatehouse.sqlite');
  const store = await openSqliteStore(file);
  const accounts = new Accounts(config, log, tokenVerifier(store, new Set(['localhost'])));
  const app = await buildApp({ config, accounts, hosts: [], logger: log });
  const base = `${await app.listen({ host: '127.0.0.1', port: 0 })}/auth`;
  const other = new Database(file);
  t.after(async () => {
    other.close();
    await app.close();
    await accounts.close();
    await store.close();
  });
  const token = 'B'.repeat(43);
  const check = () => fetch(`${base}/check_password?${q({ user: 'alice', server: 'localhost', pass: token })}`);
  // Positive control: the token is looked up and not found, and the script says no.
  assert.equal(await (await check()).text(), 'false');
  // The tokens table is dropped behind the store's back (a manual edit of the database): the
  // lookup fails, and retrying will not help until an operator acts.
  other.exec('DROP TABLE tokens');
  const before = log.entries.length;
  const r = await check();
  assert.equal(r.status, 500);
  assert.equal(r.headers.get('content-type'), 'text/plain; charset=utf-8');
  assert.equal(r.headers.get('retry-after'), null);
  assert.equal(await r.text(), 'internal error', 'nothing of the internals');
  const logged = log.entries.slice(before).filter((e) => e.level !== 'info' && e.level !== 'debug');
  assert.deepEqual(
    logged.map((e) => ({ level: e.level, msg: e.msg, fields: e.obj })),
    [
      {
        level: 'error',
        msg: 'auth API: no answer: the database rejected a statement (SQLITE_ERROR)',
        fields: { face: 'authapi', command: 'auth', user: 'alice', host: 'localhost', code: 'ERR_STORAGE_INTERNAL' },
      },
    ],
    'one line, the answer of the auth API (no "request failed" from the error handler)',
  );
  assert.ok(!log.text().includes(token));
});
