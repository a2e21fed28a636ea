/**
 * The browser state of the authorization flow and the account page, module by module: the
 * Cookie header as read, the attributes every cookie of ours gets, the per-browser CSRF cookie
 * and the tokens bound to it, the signed authorization-request token and the signed session.
 * Each attack is tried beside the case that passes.
 */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { test } from 'node:test';
import { decodeJwt, decodeProtectedHeader, SignJWT } from 'jose';
import { accountCsrf, accountPurpose, browserId, checkAccountCsrf } from '../../src/oauth/account/csrf.js';
import { parseConfigText } from '../../src/config/load.js';
import { oauthHosts, type OAuthHost } from '../../src/oauth/host.js';
import { cookie, parseCookies } from '../../src/oauth/session/cookies.js';
import { browserCookie, browserOf, checkCsrf, csrfCookie, csrfToken, isBrowserId, newCsrfCookie, rotatedCsrfCookie } from '../../src/oauth/session/csrf.js';
import { issueRequestToken, readRequestToken, REQUEST_TTL_S, type AuthorizationRequest } from '../../src/oauth/session/request-token.js';
import { issueSession, readSession, sessionCookie, sessionFits, type ReadSession } from '../../src/oauth/session/session.js';
import { REGISTRATION_KEY } from '../helpers/oauth.js';

function hosts(): { plain: OAuthHost; root: OAuthHost; secure: OAuthHost; other: OAuthHost } {
  const config = parseConfigText(`external_auth_command = ["/bin/true"]
oauth2_registration_key = "${REGISTRATION_KEY}"
[hosts."localhost"]
oauth2_issuer = "http://127.0.0.1:5280/localhost"
[hosts."root.example"]
oauth2_issuer = "http://localhost:5280"
[hosts."secure.example"]
oauth2_issuer = "https://secure.example/base"
[hosts."other.example"]
oauth2_issuer = "http://127.0.0.1:5280/other"
`);
  const byName = new Map(oauthHosts(config).map((h) => [h.host, h]));
  return { plain: byName.get('localhost')!, root: byName.get('root.example')!, secure: byName.get('secure.example')!, other: byName.get('other.example')! };
}

class Reply {
  readonly set: string[] = [];
  header(name: string, value: string): this {
    assert.equal(name, 'set-cookie');
    this.set.push(value);
    return this;
  }
}

const BROWSER = 'abcdefghijklmnopqrstuvwx';

test('parseCookies: names and values trimmed, the first of a name kept, parts without "=" skipped', () => {
  assert.deepEqual({ ...parseCookies(undefined) }, {});
  assert.deepEqual({ ...parseCookies('') }, {});
  assert.deepEqual({ ...parseCookies('a=1') }, { a: '1' });
  assert.deepEqual({ ...parseCookies(' a = 1 ;b=2=3;  c=') }, { a: '1', b: '2=3', c: '' });
  assert.deepEqual({ ...parseCookies('gh_session=first; gh_session=second') }, { gh_session: 'first' });
  assert.deepEqual({ ...parseCookies('junk; x=y;other') }, { x: 'y' });
  // A cookie named like an Object.prototype member is read as any other.
  assert.deepEqual({ ...parseCookies('constructor=c; __proto__=p') }, JSON.parse('{"constructor":"c","__proto__":"p"}'));
  assert.equal(Object.getPrototypeOf(parseCookies('a=1')), null);
});

test('cookie(): path of the issuer (or /), HttpOnly, SameSite, Max-Age, and Secure only under https', () => {
  const { plain, root, secure } = hosts();
  assert.equal(cookie(plain, 'n', 'v', 60, 'Lax'), 'n=v; Path=/localhost; HttpOnly; SameSite=Lax; Max-Age=60');
  assert.equal(cookie(root, 'n', 'v', 7, 'Strict'), 'n=v; Path=/; HttpOnly; SameSite=Strict; Max-Age=7');
  assert.equal(cookie(secure, 'n', 'v', 1, 'Lax'), 'n=v; Path=/base; HttpOnly; SameSite=Lax; Max-Age=1; Secure');
});

test('the CSRF cookie: 24 base64url characters, under __Host- with Path=/ and Secure for an https issuer', () => {
  const { plain, root, secure } = hosts();
  const a = newCsrfCookie();
  assert.match(a, /^[A-Za-z0-9_-]{24}$/);
  assert.notEqual(newCsrfCookie(), a);
  assert.equal(csrfCookie(plain, BROWSER), `gh_csrf=${BROWSER}; Path=/localhost; HttpOnly; SameSite=Strict; Max-Age=${REQUEST_TTL_S * 6}`);
  assert.equal(csrfCookie(root, BROWSER), `gh_csrf=${BROWSER}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600`);
  assert.equal(csrfCookie(secure, BROWSER), `__Host-gh_csrf=${BROWSER}; Path=/; HttpOnly; SameSite=Strict; Max-Age=3600; Secure`);
  // Read under the host's own name only.
  assert.equal(browserOf(plain, { gh_csrf: 'a', '__Host-gh_csrf': 'b' }), 'a');
  assert.equal(browserOf(secure, { gh_csrf: 'a', '__Host-gh_csrf': 'b' }), 'b');
  assert.equal(browserOf(secure, { gh_csrf: 'a' }), undefined);
  // Rotation draws a new value under the host's name.
  const rotated = rotatedCsrfCookie(plain);
  assert.match(rotated, /^gh_csrf=[A-Za-z0-9_-]{24}; Path=\/localhost; HttpOnly; SameSite=Strict; Max-Age=3600$/);
  assert.notEqual(rotated, rotatedCsrfCookie(plain));
  assert.match(rotatedCsrfCookie(secure), /^__Host-gh_csrf=[A-Za-z0-9_-]{24}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=3600; Secure$/);
});

test('attack: a CSRF cookie value not of the drawn shape is not a browser id', () => {
  for (const ok of [BROWSER, 'A'.repeat(24), '-'.repeat(24), '_'.repeat(24), '0123456789ABCDEFGHIJKLMN', newCsrfCookie()]) assert.equal(isBrowserId(ok), true, ok);
  for (const bad of [undefined, '', 'A'.repeat(23), 'A'.repeat(25), `${'A'.repeat(23)}=`, `${'A'.repeat(23)}+`, `${'A'.repeat(23)}/`, `.${'A'.repeat(23)}`, `${'A'.repeat(24)}\n`, `x${'A'.repeat(24)}`, `${'A'.repeat(24)}x`, 'A'.repeat(48)]) {
    assert.equal(isBrowserId(bad), false, JSON.stringify(bad));
  }
});

test('browserCookie: a well-formed cookie is kept (set again only on refresh); a missing or malformed one is replaced', () => {
  const { plain, secure } = hosts();
  const kept = new Reply();
  assert.equal(browserCookie(plain, { gh_csrf: BROWSER }, kept), BROWSER);
  assert.deepEqual(kept.set, []);
  const refreshed = new Reply();
  assert.equal(browserCookie(plain, { gh_csrf: BROWSER }, refreshed, true), BROWSER);
  assert.deepEqual(refreshed.set, [csrfCookie(plain, BROWSER)]);
  for (const cookies of [{}, { gh_csrf: 'short' }, { '__Host-gh_csrf': BROWSER }] as Record<string, string>[]) {
    const r = new Reply();
    const drawn = browserCookie(plain, cookies, r);
    assert.ok(isBrowserId(drawn) && drawn !== BROWSER);
    assert.deepEqual(r.set, [csrfCookie(plain, drawn)]);
  }
  // Under https only the __Host- name counts.
  const planted = new Reply();
  const drawn = browserCookie(secure, { gh_csrf: BROWSER }, planted);
  assert.notEqual(drawn, BROWSER);
  assert.deepEqual(planted.set, [csrfCookie(secure, drawn)]);
  const account = new Reply();
  assert.equal(browserId(plain, { gh_csrf: BROWSER }, account as never), BROWSER);
  assert.deepEqual(account.set, [csrfCookie(plain, BROWSER)], 'the account page restarts the cookie lifetime');
});

test('attack: a CSRF token of another browser, another request, another host, truncated or missing is refused', () => {
  const { plain, other } = hosts();
  const want = createHmac('sha256', plain.csrfKey).update(`${BROWSER}.req.token`).digest('base64url');
  assert.equal(csrfToken(plain, BROWSER, 'req.token'), want);
  assert.equal(checkCsrf(plain, BROWSER, 'req.token', want), true);
  assert.equal(checkCsrf(plain, 'B'.repeat(24), 'req.token', want), false);
  assert.equal(checkCsrf(plain, BROWSER, 'req.other', want), false);
  assert.equal(checkCsrf(other, BROWSER, 'req.token', want), false);
  assert.equal(checkCsrf(plain, BROWSER, 'req.token', want.slice(0, -1)), false);
  assert.equal(checkCsrf(plain, BROWSER, 'req.token', `${want}A`), false);
  assert.equal(checkCsrf(plain, BROWSER, 'req.token', ''), false);
  assert.equal(checkCsrf(plain, BROWSER, 'req.token', undefined), false);
  assert.equal(checkCsrf(plain, undefined, 'req.token', want), false);
  // A missing cookie is not the cookie value "undefined".
  assert.equal(checkCsrf(plain, 'undefined', 'req.token', csrfToken(plain, 'undefined', 'req.token')), true);
  assert.equal(checkCsrf(plain, undefined, 'req.token', csrfToken(plain, 'undefined', 'req.token')), false);
});

test('attack: an account-page token of the sign-in form, of another user or another browser is refused', () => {
  const { plain, secure } = hosts();
  assert.equal(accountPurpose(null), 'account');
  assert.equal(accountPurpose('alice'), 'account:alice');
  const signIn = accountCsrf(plain, BROWSER, null);
  const alice = accountCsrf(plain, BROWSER, 'alice');
  assert.equal(signIn, csrfToken(plain, BROWSER, 'account'));
  assert.equal(alice, csrfToken(plain, BROWSER, 'account:alice'));
  const cookies = { gh_csrf: BROWSER };
  assert.equal(checkAccountCsrf(plain, cookies, null, signIn), true);
  assert.equal(checkAccountCsrf(plain, cookies, 'alice', alice), true);
  assert.equal(checkAccountCsrf(plain, cookies, 'alice', signIn), false);
  assert.equal(checkAccountCsrf(plain, cookies, null, alice), false);
  assert.equal(checkAccountCsrf(plain, cookies, 'bob', alice), false);
  assert.equal(checkAccountCsrf(plain, { gh_csrf: 'B'.repeat(24) }, 'alice', alice), false);
  assert.equal(checkAccountCsrf(plain, {}, 'alice', alice), false);
  assert.equal(checkAccountCsrf(plain, cookies, 'alice', [alice]), false);
  assert.equal(checkAccountCsrf(plain, cookies, 'alice', undefined), false);
  // Only a string is a token: not a number, nor the token's bytes as an array (a field sent once per byte).
  assert.equal(checkAccountCsrf(plain, cookies, 'alice', 43), false);
  assert.equal(checkAccountCsrf(plain, cookies, 'alice', [...Buffer.from(alice)]), false);
  assert.equal(checkAccountCsrf(plain, cookies, 'alice', [...Buffer.from(alice)].map(String)), false);
  // A malformed cookie value is refused even with the token made for it.
  assert.equal(checkAccountCsrf(plain, { gh_csrf: 'short' }, null, csrfToken(plain, 'short', 'account')), false);
  // Under https, the token made for the unprefixed cookie's value does not pass.
  assert.equal(checkAccountCsrf(secure, { gh_csrf: BROWSER }, null, accountCsrf(secure, BROWSER, null)), false);
  assert.equal(checkAccountCsrf(secure, { '__Host-gh_csrf': BROWSER }, null, accountCsrf(secure, BROWSER, null)), true);
});

const REQUEST: AuthorizationRequest = { client_id: 'c1', redirect_uri: 'https://app.example.net/cb', scope: 'xmpp', code_challenge: 'x'.repeat(43) };

test('the request token: HS256, typed, for the issuer, valid for REQUEST_TTL_S, read back as issued', async () => {
  const { plain } = hosts();
  const token = await issueRequestToken(plain, { ...REQUEST, redirect_uri_omitted: true, state: 's', nonce: 'n', auth_after: 1234 });
  assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'gh-authz-request+jwt' });
  const claims = decodeJwt(token);
  assert.equal(claims.aud, plain.issuer);
  assert.equal(claims.exp! - claims.iat!, REQUEST_TTL_S);
  assert.ok(Math.abs(claims.iat! - Date.now() / 1000) < 5);
  assert.deepEqual(await readRequestToken(plain, token), { ...REQUEST, redirect_uri_omitted: true, state: 's', nonce: 'n', auth_after: 1234 });
  assert.deepEqual(await readRequestToken(plain, await issueRequestToken(plain, REQUEST)), REQUEST);
  assert.deepEqual(await readRequestToken(plain, await issueRequestToken(plain, { ...REQUEST, scope: '' })), { ...REQUEST, scope: '' });
  assert.deepEqual(await readRequestToken(plain, await issueRequestToken(plain, { ...REQUEST, state: '', nonce: '' })), { ...REQUEST, state: '', nonce: '' });
});

test('attack: a request token expired, of another host, tampered, or signed with another type is refused', async (t) => {
  const { plain, other } = hosts();
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
  const token = await issueRequestToken(plain, REQUEST);
  t.mock.timers.tick(REQUEST_TTL_S * 1000 - 2000);
  assert.deepEqual(await readRequestToken(plain, token), REQUEST);
  t.mock.timers.tick(2000);
  assert.equal(await readRequestToken(plain, token), null);
  t.mock.timers.reset();
  const fresh = await issueRequestToken(plain, REQUEST);
  assert.equal(await readRequestToken(other, fresh), null);
  const [h, p, s] = fresh.split('.');
  const widened = Buffer.from(JSON.stringify({ ...decodeJwt(fresh), scope: 'xmpp openid' })).toString('base64url');
  assert.equal(await readRequestToken(plain, `${h}.${widened}.${s}`), null);
  assert.equal(await readRequestToken(plain, `${h}.${p}.${s!.slice(0, -2)}`), null);
  assert.equal(await readRequestToken(plain, 'not a token'), null);
  const sign = (payload: Record<string, unknown>, typ = 'gh-authz-request+jwt', aud = plain.issuer, key = plain.requestKey) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ }).setAudience(aud).setIssuedAt().setExpirationTime('60s').sign(key);
  assert.deepEqual(await readRequestToken(plain, await sign({ ...REQUEST })), REQUEST);
  assert.equal(await readRequestToken(plain, await sign({ ...REQUEST }, 'gh-session+jwt')), null);
  assert.equal(await readRequestToken(plain, await sign({ ...REQUEST }, undefined, other.issuer)), null);
  assert.equal(await readRequestToken(plain, await sign({ ...REQUEST }, undefined, undefined, plain.sessionKey)), null);
  // A session cookie (same shape, other key and type) is not a request token.
  assert.equal(await readRequestToken(plain, await issueSession(plain, { user: 'alice', authTime: 1, generation: 0 })), null);
});

test('attack: a request token missing a field, or with one of the wrong type, is refused; optional fields only as typed', async () => {
  const { plain } = hosts();
  const sign = (payload: Record<string, unknown>) => new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ: 'gh-authz-request+jwt' }).setAudience(plain.issuer).setIssuedAt().setExpirationTime('60s').sign(plain.requestKey);
  for (const k of ['client_id', 'redirect_uri', 'scope', 'code_challenge'] as const) {
    const { [k]: _, ...without } = REQUEST;
    assert.equal(await readRequestToken(plain, await sign(without)), null, `without ${k}`);
    assert.equal(await readRequestToken(plain, await sign({ ...REQUEST, [k]: 1 })), null, `${k} a number`);
  }
  for (const k of ['client_id', 'redirect_uri', 'code_challenge'] as const) {
    assert.equal(await readRequestToken(plain, await sign({ ...REQUEST, [k]: '' })), null, `${k} empty`);
  }
  assert.deepEqual(
    await readRequestToken(plain, await sign({ ...REQUEST, redirect_uri_omitted: 'true', state: 1, nonce: false, auth_after: 1.5 })),
    REQUEST,
  );
  assert.deepEqual(await readRequestToken(plain, await sign({ ...REQUEST, auth_after: '5' })), REQUEST);
  assert.deepEqual(await readRequestToken(plain, await sign({ ...REQUEST, auth_after: 2 ** 53 })), REQUEST);
  assert.deepEqual(await readRequestToken(plain, await sign({ ...REQUEST, auth_after: 0 })), { ...REQUEST, auth_after: 0 });
  assert.deepEqual(await readRequestToken(plain, await sign({ ...REQUEST, extra: 'x' })), REQUEST);
});

function store(notBefore = 0, generation = 0, fail = false) {
  const asked: string[] = [];
  return {
    asked,
    sessionsNotBefore: async (host: string, user: string) => {
      asked.push(`nb ${host} ${user}`);
      if (fail) throw new Error('down');
      return notBefore;
    },
    accountGeneration: async (host: string, user: string) => {
      asked.push(`gen ${host} ${user}`);
      return generation;
    },
  };
}

test('the session: HS256, typed, for the issuer, issued at `at`, valid an hour, in a Lax cookie', async () => {
  const { plain, secure } = hosts();
  const at = 1_700_000_000_999;
  const token = await issueSession(plain, { user: 'alice', authTime: 17, generation: 3 }, at);
  assert.deepEqual(decodeProtectedHeader(token), { alg: 'HS256', typ: 'gh-session+jwt' });
  assert.deepEqual(decodeJwt(token), { user: 'alice', auth_time: 17, at, gen: 3, aud: plain.issuer, iat: 1_700_000_000, exp: 1_700_003_600 });
  const now = decodeJwt(await issueSession(plain, { user: 'alice', authTime: 17, generation: 0 }));
  assert.ok(Math.abs((now['at'] as number) - Date.now()) < 5000);
  assert.equal(sessionCookie(plain, 'tok'), 'gh_session=tok; Path=/localhost; HttpOnly; SameSite=Lax; Max-Age=3600');
  assert.equal(sessionCookie(secure, 'tok'), 'gh_session=tok; Path=/base; HttpOnly; SameSite=Lax; Max-Age=3600; Secure');
});

test('readSession: a valid session is read back, asked of the store for its own host and user', async () => {
  const { plain } = hosts();
  const at = Date.now() - 1000;
  const token = await issueSession(plain, { user: 'alice', authTime: 17, generation: 2 }, at);
  const s = store(at, 2);
  assert.deepEqual(await readSession({ host: plain, store: s }, { gh_session: token }), { user: 'alice', authTime: 17, generation: 2, issuedMs: at });
  assert.deepEqual(s.asked.sort(), ['gen localhost alice', 'nb localhost alice']);
  assert.equal(await readSession({ host: plain, store: store() }, {}), null);
  assert.equal(await readSession({ host: plain, store: store() }, { other: token }), null);
});

test('attack: a session ended (password change, sign-out), of an ended generation, expired, forged or of another host is refused', async () => {
  const { plain, other } = hosts();
  const at = Date.now() - 1000;
  const read = (token: string, st = store(0, 0)) => readSession({ host: plain, store: st }, { gh_session: token });
  const token = await issueSession(plain, { user: 'alice', authTime: 17, generation: 0 }, at);
  assert.notEqual(await read(token, store(at, 0)), null);
  assert.equal(await read(token, store(at + 1, 0)), null, 'ended after it was issued');
  assert.equal(await read(token, store(0, 1)), null, 'a later generation of the name');
  assert.equal(await read(token, store(0, 0, true)), null, 'storage cannot say');
  // Expired: issued an hour and more ago; a minute less is still valid.
  assert.notEqual(await read(await issueSession(plain, { user: 'alice', authTime: 17, generation: 0 }, Date.now() - 3540_000)), null);
  assert.equal(await read(await issueSession(plain, { user: 'alice', authTime: 17, generation: 0 }, Date.now() - 3601_000)), null);
  assert.equal(await read(await issueSession(other, { user: 'alice', authTime: 17, generation: 0 }, at)), null, 'another host');
  assert.equal(await read(token.slice(0, -2)), null, 'truncated');
  const [h, , sig] = token.split('.');
  const forged = Buffer.from(JSON.stringify({ ...decodeJwt(token), user: 'bob' })).toString('base64url');
  assert.equal(await read(`${h}.${forged}.${sig}`), null, 'another user');
  const sign = (payload: Record<string, unknown>, typ = 'gh-session+jwt', key = plain.sessionKey) =>
    new SignJWT(payload).setProtectedHeader({ alg: 'HS256', typ }).setAudience(plain.issuer).setIssuedAt().setExpirationTime('60s').sign(key);
  assert.notEqual(await read(await sign({ user: 'alice', auth_time: 1, at })), null);
  assert.equal(await read(await sign({ user: 'alice', auth_time: 1, at }, 'gh-authz-request+jwt')), null);
  assert.equal(await read(await sign({ user: 'alice', auth_time: 1, at }, undefined, plain.requestKey)), null);
  assert.equal(await read(await sign({ user: 1, auth_time: 1, at })), null);
  assert.equal(await read(await sign({ auth_time: 1, at })), null);
  assert.equal(await read(await sign({ user: 'alice', auth_time: '1', at })), null);
  assert.equal(await read(await sign({ user: 'alice', at })), null);
  // A request token (same key family, other type) is not a session.
  assert.equal(await read(await issueRequestToken(plain, REQUEST)), null);
});

test('readSession: sessions from before the `at` and `gen` claims count from their iat, as the first generation', async () => {
  const { plain } = hosts();
  const iat = Math.floor(Date.now() / 1000) - 10;
  const legacy = await new SignJWT({ user: 'alice', auth_time: 5 }).setProtectedHeader({ alg: 'HS256', typ: 'gh-session+jwt' }).setAudience(plain.issuer).setIssuedAt(iat).setExpirationTime(iat + 3600).sign(plain.sessionKey);
  const read = (st: ReturnType<typeof store>) => readSession({ host: plain, store: st }, { gh_session: legacy });
  assert.deepEqual(await read(store(iat * 1000, 0)), { user: 'alice', authTime: 5, generation: 0, issuedMs: iat * 1000 });
  assert.equal(await read(store(iat * 1000 + 1, 0)), null);
  assert.equal(await read(store(0, 1)), null);
  // Without an iat either: issued at 0, so any end of sessions ends it.
  const noIat = await new SignJWT({ user: 'alice', auth_time: 5, gen: 0 }).setProtectedHeader({ alg: 'HS256', typ: 'gh-session+jwt' }).setAudience(plain.issuer).setExpirationTime(iat + 3600).sign(plain.sessionKey);
  assert.deepEqual(await readSession({ host: plain, store: store(0, 0) }, { gh_session: noIat }), { user: 'alice', authTime: 5, generation: 0, issuedMs: 0 });
  assert.equal(await readSession({ host: plain, store: store(1, 0) }, { gh_session: noIat }), null);
});

test('sessionFits: none never fits; one issued before auth_after does not; at or after it, or without it, does', () => {
  const s: ReadSession = { user: 'alice', authTime: 1, generation: 0, issuedMs: 1000 };
  assert.equal(sessionFits(null, undefined), false);
  assert.equal(sessionFits(null, 0), false);
  assert.equal(sessionFits(s, undefined), true);
  assert.equal(sessionFits(s, 999), true);
  assert.equal(sessionFits(s, 1000), true);
  assert.equal(sessionFits(s, 1001), false);
  assert.equal(sessionFits({ ...s, issuedMs: 0 }, undefined), true);
});
