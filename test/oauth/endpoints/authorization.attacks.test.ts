/**
 * The authorization endpoint, its login and consent pages, code issuance, revocation,
 * introspection and the password grant, each attacked directly over HTTP against a real app
 * with a real SQLite store (read back to check what was stored): errors of an unapproved
 * client stay on our page (RFC 9700 §4.11.2), `prompt` and `max_age` (OIDC Core §3.1.2.1)
 * force a fresh sign-in, a consent or a code never comes without a fitting session, a client
 * revokes (RFC 7009 §2.1) and introspects (RFC 7662 §2.2) only its own tokens, and the
 * password grant (RFC 6749 §4.3) serves only the clients that registered it.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { parseConfigText } from '../../../src/config/load.js';
import { hashSecret } from '../../../src/oauth/tokens/secrets.js';
import type { OAuthStore } from '../../../src/storage/port.js';
import { TestBrowser, field } from '../../helpers/browser.js';
import { MemoryLogger } from '../../helpers/log.js';
import { basic, freePort, pkce, REDIRECT, register, REGISTRATION_KEY, serveConfig, token } from '../../helpers/oauth.js';
import { fixture } from '../../helpers/paths.js';

const RS_SECRET = 'resource-server-secret-0123456789';
const RESOURCE = 'imap://mail.example.org';

interface Server {
  origin: string;
  issuer: string;
  otherIssuer: string;
  store: OAuthStore;
  log: MemoryLogger;
}

async function start(t: TestContext, extra = ''): Promise<Server> {
  const port = await freePort();
  const origin = `http://127.0.0.1:${port}`;
  const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]
oauth2_registration_key = "${REGISTRATION_KEY}"
auth_failure_limit_address = 0
oauth2_password_grant = true
oauth2_introspection_credentials = ["dovecot:${RS_SECRET}:imap", "anyscope:${RS_SECRET}x"]
oauth2_jwt_resources = ["${RESOURCE}"]
${extra}
[hosts."localhost"]
oauth2_issuer = "${origin}/localhost"
[hosts."other.example"]
oauth2_issuer = "${origin}/other"
`);
  const { store, log } = await serveConfig(t, config, port);
  return { origin, issuer: `${origin}/localhost`, otherIssuer: `${origin}/other`, store, log };
}

/** An authorization request's query, every parameter valid unless overridden (undefined drops one). */
function query(clientId: string, over: Record<string, string | undefined> = {}): string {
  const all: Record<string, string | undefined> = {
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'xmpp',
    state: 'st-1',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...over,
  };
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(all)) if (v !== undefined) q.set(k, v);
  return q.toString();
}

/** Sign `b` in through the login page of an authorization request; returns the consent page. */
async function signIn(s: Server, b: TestBrowser, clientId: string, user = 'alice'): Promise<string> {
  const page = await (await b.get(`${s.issuer}/oauth2/authorize?${query(clientId)}`)).text();
  const login = await b.post(`${s.issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: user, password: 'secret' });
  assert.equal(login.status, 303, await login.text());
  const consent = await (await b.get(new URL(login.headers.get('location')!, s.issuer).toString())).text();
  assert.ok(consent.includes('Allow access?'), 'signed in: the consent page');
  return consent;
}

/** Allow on a consent page; returns the redirect back to the client. */
async function allow(s: Server, b: TestBrowser, page: string): Promise<URL> {
  const res = await b.post(`${s.issuer}/oauth2/authorize/consent`, { request: field(page, 'request'), csrf: field(page, 'csrf'), decision: 'allow' });
  assert.equal(res.status, 303, await res.text());
  return new URL(res.headers.get('location')!);
}

async function post(url: string, form: Record<string, string>, auth?: string): Promise<{ status: number; body: Record<string, unknown>; text: string }> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth !== undefined ? { authorization: auth } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  const text = await res.text();
  let body: Record<string, unknown> = {};
  try {
    body = JSON.parse(text) as Record<string, unknown>;
  } catch {
    /* an empty 200 */
  }
  return { status: res.status, body, text };
}

/** The error page's text with HTML entities of quotes and brackets undone. */
const unescape = (html: string) => html.replace(/&#39;/g, "'").replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&');

/** Each refusal of steps 4-8 (endpoint.ts header), with its code and description. */
function refusals(webId: string): { over: Record<string, string | undefined>; error: string; description: string }[] {
  return [
    { over: { request: 'eyJ.x.y' }, error: 'request_not_supported', description: 'request objects are not supported' },
    { over: { request_uri: 'https://evil.example/r' }, error: 'request_uri_not_supported', description: 'request_uri is not supported' },
    { over: { response_type: 'token' }, error: 'unsupported_response_type', description: 'only response_type=code is supported' },
    { over: { response_type: undefined }, error: 'unsupported_response_type', description: 'only response_type=code is supported' },
    { over: { code_challenge: undefined }, error: 'invalid_request', description: 'code_challenge (PKCE) is required' },
    { over: { code_challenge: 'short' }, error: 'invalid_request', description: 'code_challenge (PKCE) is required' },
    { over: { code_challenge_method: 'plain' }, error: 'invalid_request', description: 'code_challenge_method must be S256' },
    { over: { code_challenge_method: undefined }, error: 'invalid_request', description: 'code_challenge_method must be S256' },
    { over: { scope: 'xmpp admin' }, error: 'invalid_scope', description: 'unknown scope' },
    { over: { scope: 'imap' }, error: 'invalid_scope', description: 'no scope requested that the client registered' },
    { over: { prompt: 'always' }, error: 'invalid_request', description: 'prompt must be none, or any of login, consent, select_account' },
    { over: { prompt: 'none login' }, error: 'invalid_request', description: 'prompt must be none, or any of login, consent, select_account' },
    { over: { prompt: 'consent none' }, error: 'invalid_request', description: 'prompt must be none, or any of login, consent, select_account' },
    { over: { max_age: 'abc' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
    { over: { max_age: '-1' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
    { over: { max_age: '12345678901' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
    { over: { max_age: '1x' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
    { over: { max_age: 'x1' }, error: 'invalid_request', description: 'max_age must be a number of seconds' },
  ].map((r) => ({ ...r, over: { ...r.over, client_id: webId } }));
}

test('attack: an unapproved client gets no redirect for any refusal (open redirector), a client the user approved does', async (t) => {
  const s = await start(t);
  const web = await register(s.issuer);
  const b = new TestBrowser();
  // Signed in, but never approved `web`: another client's consent does not count.
  const stranger = await register(s.issuer, { client_name: 'Stranger' });
  await allow(s, b, await signIn(s, b, stranger.client_id!));

  for (const r of refusals(web.client_id!)) {
    for (const who of [new TestBrowser(), b]) {
      const res = await who.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!, r.over)}`);
      const html = unescape(await res.text());
      assert.equal(res.status, 400, `${r.error} ${JSON.stringify(r.over)}`);
      assert.equal(res.headers.get('location'), null, 'never redirected');
      assert.ok(html.includes(`Test Chat sent a request that cannot be completed (${r.error}: ${r.description}).`), `${r.error}: ${html}`);
    }
  }
  assert.match(s.log.text(), /authorization error shown, not redirected/);

  // Once the user approved `web`, each refusal goes back to it, with state and iss (RFC 9207).
  await allow(s, b, await signIn(s, b, web.client_id!));
  for (const r of refusals(web.client_id!)) {
    const res = await b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!, r.over)}`);
    assert.equal(res.status, 303, `${r.error} ${JSON.stringify(r.over)}`);
    const back = new URL(res.headers.get('location')!);
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
    assert.deepEqual(Object.fromEntries(back.searchParams), { error: r.error, error_description: r.description, state: 'st-1', iss: s.issuer });
  }
  // A valid request of each accepted prompt and max_age reaches a page of ours.
  for (const over of [{ prompt: 'consent' }, { prompt: 'login consent' }, { prompt: '' }, { max_age: '0' }, { max_age: '9999999999' }, { scope: 'xmpp imap' }]) {
    const res = await b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!, over)}`);
    assert.equal(res.status, 200, JSON.stringify(over));
  }
});

test('a client that did not register the code grant is refused: unauthorized_client', async (t) => {
  const s = await start(t);
  // A password-grant client with a redirect URI: the URI is registered, the grant is not.
  const legacy = await register(s.issuer, { grant_types: ['password'] });
  assert.equal(legacy.status, 201, JSON.stringify(legacy));
  const res = await fetch(`${s.issuer}/oauth2/authorize?${query(legacy.client_id!)}`, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.ok(unescape(await res.text()).includes('(unauthorized_client: client did not register the authorization_code grant)'));
});

test('requests that never reach the client: bad parameters, unknown client, unregistered or missing redirect_uri', async (t) => {
  const s = await start(t);
  const web = await register(s.issuer);
  const page = async (q: string) => {
    const res = await fetch(`${s.issuer}/oauth2/authorize?${q}`, { redirect: 'manual' });
    assert.equal(res.headers.get('location'), null);
    return { status: res.status, html: unescape(await res.text()) };
  };
  const dup = await page(`${query(web.client_id!)}&scope=openid`);
  assert.equal(dup.status, 400);
  assert.match(dup.html, /Invalid request/);
  const unknown = await page(query('not-a-client'));
  assert.equal(unknown.status, 400);
  assert.match(unknown.html, /Unknown application/);
  const elsewhere = await page(query(web.client_id!, { redirect_uri: 'https://evil.example/cb' }));
  assert.equal(elsewhere.status, 400);
  assert.match(elsewhere.html, /did not register/);
  // OpenID Connect requires redirect_uri (OIDC Core §3.1.2.1), even for one registered URI.
  for (const scope of ['openid', 'xmpp openid', 'openid xmpp']) {
    const oidc = await page(query(web.client_id!, { redirect_uri: undefined, scope }));
    assert.equal(oidc.status, 400, scope);
    assert.match(oidc.html, /redirect_uri is required for OpenID Connect/, scope);
  }
  // Without openid it may be left out (RFC 6749 §3.1.2.3): the login page.
  const plain = await page(query(web.client_id!, { redirect_uri: undefined }));
  assert.equal(plain.status, 200);
  assert.match(plain.html, /name="password"/);
  // POST with a form body is the same request (OIDC Core §3.1.2.1).
  const form = await fetch(`${s.issuer}/oauth2/authorize`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: query(web.client_id!), redirect: 'manual' });
  assert.equal(form.status, 200);
  assert.match(await form.text(), /name="password"/);
});

test('code issuance: what the code and its grant record, with redirect_uri omitted or named, state and nonce kept', async (t) => {
  const s = await start(t);
  const web = await register(s.issuer, { client_uri: 'https://app.example.net/home' });
  const bare = await register(s.issuer, { client_uri: undefined, client_name: 'Bare' });
  const b = new TestBrowser();
  const { challenge } = pkce();
  const page = await (await b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!, { redirect_uri: undefined, code_challenge: challenge, state: undefined })}`)).text();
  const before = Date.now();
  const login = await b.post(`${s.issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: 'alice@LOCALHOST', password: 'secret' });
  assert.equal(login.status, 303);
  assert.equal(login.headers.get('location'), `/localhost/oauth2/authorize/consent?request=${encodeURIComponent(field(page, 'request'))}`);
  const cookies = login.headers.getSetCookie();
  assert.ok(cookies.some((c) => c.startsWith('gh_session=')) && cookies.some((c) => c.startsWith('gh_csrf=')), 'session set, CSRF cookie rotated');
  assert.match(s.log.text(), /user signed in/);
  const consent = await (await b.get(new URL(login.headers.get('location')!, s.issuer).toString())).text();
  const back = await allow(s, b, consent);
  assert.deepEqual([...back.searchParams.keys()].sort(), ['code', 'iss']);
  const code = await s.store.findCodeWithGrant(hashSecret(back.searchParams.get('code')!));
  assert.ok(code !== null);
  assert.equal(code.code.redirectUri, '', 'the request named no redirect_uri (RFC 6749 §4.1.3)');
  assert.equal(code.code.clientHash, hashSecret(web.client_id!));
  assert.equal(code.code.codeChallenge, challenge);
  assert.equal(code.code.scope, 'xmpp');
  assert.equal(code.code.nonce, null);
  assert.equal(code.code.consumedAt, null);
  assert.equal(code.code.expiresAt - code.code.createdAt, 120_000);
  assert.ok(code.code.createdAt >= before);
  const { id, createdAt, lastUsedAt, authTime, ...grant } = code.grant;
  assert.equal(code.code.grantId, id);
  assert.deepEqual(grant, { host: 'localhost', user: 'alice', clientId: web.client_id, clientHash: hashSecret(web.client_id!), clientName: 'Test Chat', clientUri: 'https://app.example.net/home', scope: 'xmpp', revokedAt: null, generation: 0 });
  assert.equal(createdAt, code.code.createdAt);
  assert.equal(lastUsedAt, createdAt);
  // auth_time is the sign-in's, in whole seconds, stored in ms.
  assert.equal(authTime % 1000, 0);
  assert.ok(authTime >= Math.floor(before / 1000) * 1000 && authTime <= createdAt);

  // Named redirect_uri, state and nonce; a client without client_uri records ''.
  const named = await (await b.get(`${s.issuer}/oauth2/authorize?${query(bare.client_id!, { nonce: 'n-0S6', scope: 'openid xmpp', state: 'keep me' })}`)).text();
  const back2 = await allow(s, b, named);
  assert.equal(back2.searchParams.get('state'), 'keep me');
  assert.equal(back2.searchParams.get('iss'), s.issuer);
  const code2 = await s.store.findCodeWithGrant(hashSecret(back2.searchParams.get('code')!));
  assert.ok(code2 !== null);
  assert.equal(code2.code.redirectUri, REDIRECT);
  assert.equal(code2.code.nonce, 'n-0S6');
  assert.equal(code2.code.scope, 'openid xmpp');
  assert.equal(code2.grant.clientUri, '');
  assert.equal(code2.grant.clientName, 'Bare');
  assert.match(s.log.text(), /user granted access/);
});

test('attack: a code without a sign-in, with a stale session, or for a forged or swapped form', async (t) => {
  const s = await start(t);
  const web = await register(s.issuer);
  const other = await register(s.issuer, { client_name: 'Other' });
  const b = new TestBrowser();
  const consent = await signIn(s, b, web.client_id!);

  // No session: the consent POST is refused; no code.
  const anon = new TestBrowser();
  const anonPage = await (await anon.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!)}`)).text();
  const noSession = await anon.post(`${s.issuer}/oauth2/authorize/consent`, { request: field(anonPage, 'request'), csrf: field(anonPage, 'csrf'), decision: 'allow' });
  assert.equal(noSession.status, 400);
  assert.match(await noSession.text(), /Signed out/);
  // CSRF token of another request (the other client's) with this request: refused.
  const otherPage = await (await b.get(`${s.issuer}/oauth2/authorize?${query(other.client_id!)}`)).text();
  const swapped = await b.post(`${s.issuer}/oauth2/authorize/consent`, { request: field(consent, 'request'), csrf: field(otherPage, 'csrf'), decision: 'allow' });
  assert.equal(swapped.status, 403);
  // A forged request token with a valid-looking CSRF: refused as well.
  const forged = await b.post(`${s.issuer}/oauth2/authorize/consent`, { request: 'forged', csrf: field(consent, 'csrf'), decision: 'allow' });
  assert.equal(forged.status, 403);
  const forgedLogin = await b.post(`${s.issuer}/oauth2/authorize/login`, { request: field(consent, 'request'), csrf: 'x', username: 'alice', password: 'secret' });
  assert.equal(forgedLogin.status, 403);
  assert.equal((await s.store.listGrants('localhost', 'alice')).length, 0, 'no grant yet');

  // prompt=login asks for a sign-in after the request: the session the browser has is too old,
  // both for the page and for a consent POSTed with that request.
  for (const over of [{ prompt: 'login' }, { prompt: 'select_account' }, { prompt: 'login consent' }, { max_age: '0' }, { prompt: 'login', max_age: '3600' }]) {
    const res = await b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!, over)}`);
    const html = await res.text();
    assert.match(html, /name="password"/, JSON.stringify(over));
    const post = await b.post(`${s.issuer}/oauth2/authorize/consent`, { request: field(html, 'request'), csrf: field(html, 'csrf'), decision: 'allow' });
    assert.equal(post.status, 200, JSON.stringify(over));
    assert.match(await post.text(), /name="password"/, 'the login page, not a code');
    // The consent page GET for that request also asks for the sign-in.
    const get = await b.get(`${s.issuer}/oauth2/authorize/consent?request=${encodeURIComponent(field(html, 'request'))}`);
    assert.match(await get.text(), /name="password"/);
  }
  assert.equal((await s.store.listGrants('localhost', 'alice')).length, 0, 'still no grant');
  // A generous max_age accepts the session: consent.
  const fresh = await (await b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!, { max_age: '3600' })}`)).text();
  assert.match(fresh, /Allow access\?/);

  // Deny: access_denied back to the client (the user saw it), no grant.
  for (const decision of ['deny', 'Allow', '']) {
    const denied = await b.post(`${s.issuer}/oauth2/authorize/consent`, { request: field(consent, 'request'), csrf: field(consent, 'csrf'), decision });
    assert.equal(denied.status, 303);
    const back = new URL(denied.headers.get('location')!);
    assert.deepEqual(Object.fromEntries(back.searchParams), { error: 'access_denied', error_description: 'the user denied access', state: 'st-1', iss: s.issuer });
  }
  assert.match(s.log.text(), /user denied access/);
  assert.equal((await s.store.listGrants('localhost', 'alice')).length, 0);
});

test('the consent page GET: only for a valid request token of this host', async (t) => {
  const s = await start(t);
  const web = await register(s.issuer);
  const b = new TestBrowser();
  const consent = await signIn(s, b, web.client_id!);
  const request = field(consent, 'request');
  const ok = await b.get(`${s.issuer}/oauth2/authorize/consent?request=${encodeURIComponent(request)}`);
  assert.equal(ok.status, 200);
  assert.match(await ok.text(), /Allow access\?/);
  for (const q of ['', '?request=forged', `?request=${encodeURIComponent(request)}&request=${encodeURIComponent(request)}`]) {
    const res = await b.get(`${s.issuer}/oauth2/authorize/consent${q}`);
    assert.equal(res.status, 400, q);
    assert.match(await res.text(), /This request has expired/);
  }
  // The same request token at the other host is not its own.
  const there = await b.get(`${s.otherIssuer}/oauth2/authorize/consent?request=${encodeURIComponent(request)}`);
  assert.equal(there.status, 400);
});

test('prompt=none: a code at once only with a fitting session and consent on record; else login_required or consent_required', async (t) => {
  const s = await start(t);
  const web = await register(s.issuer);
  const none = (b: TestBrowser, over: Record<string, string | undefined> = {}) => b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!, { prompt: 'none', ...over })}`);
  const shown = async (res: Response, error: string) => {
    assert.equal(res.status, 400);
    assert.equal(res.headers.get('location'), null);
    assert.ok(unescape(await res.text()).includes(`(${error}: `), error);
  };
  // No session: shown on our page.
  await shown(await none(new TestBrowser()), 'login_required');
  const b = new TestBrowser();
  const consent = await signIn(s, b, web.client_id!);
  // A session but no consent on record: shown, not redirected.
  await shown(await none(b), 'consent_required');
  await allow(s, b, consent);

  // Consent on record for xmpp: a code at once, no page.
  const at = await none(b);
  assert.equal(at.status, 303);
  const back = new URL(at.headers.get('location')!);
  assert.equal(back.searchParams.get('state'), 'st-1');
  const code = await s.store.findCode(hashSecret(back.searchParams.get('code')!));
  assert.ok(code !== null && code.scope === 'xmpp');
  // A fitting max_age too.
  assert.equal((await none(b, { max_age: '3600' })).status, 303);
  // A scope never granted: consent_required, redirected (the user approved this client).
  const wider = await none(b, { scope: 'xmpp openid' });
  assert.equal(wider.status, 303);
  assert.equal(new URL(wider.headers.get('location')!).searchParams.get('error'), 'consent_required');
  // A session older than max_age=0: login_required, redirected.
  const old = await none(b, { max_age: '0' });
  assert.equal(old.status, 303);
  const oldBack = new URL(old.headers.get('location')!);
  assert.deepEqual(Object.fromEntries(oldBack.searchParams), { error: 'login_required', error_description: 'the user must sign in', state: 'st-1', iss: s.issuer });
  // A revoked consent no longer counts.
  for (const g of await s.store.listGrants('localhost', 'alice')) await s.store.revokeGrant(g.id, Date.now());
  await shown(await none(b), 'consent_required');
});

test('the login form: refusals keep the user on the page; the throttle answers 429 with Retry-After', async (t) => {
  const s = await start(t, 'auth_failure_limit_user = 2');
  const web = await register(s.issuer);
  const b = new TestBrowser();
  const page = await (await b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!)}`)).text();
  const login = (username: string, password: string) => b.post(`${s.issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username, password });
  const bad = await login('a b', 'secret');
  assert.equal(bad.status, 400);
  const badHtml = await bad.text();
  assert.match(badHtml, /name="password"/);
  assert.match(badHtml, /value="a b"/, 'the typed username is kept');
  for (const pw of ['wrong', 'also wrong']) assert.equal((await login('bob', pw)).status, 401);
  const locked = await login('bob', 'secret');
  assert.equal(locked.status, 429);
  assert.ok(Number(locked.headers.get('retry-after')) > 0);
  assert.ok(!b.jar.has('gh_session'), 'no session from any refusal');
  // A username of another host is not stripped: it is refused as a username.
  assert.equal((await login('alice@other.example', 'secret')).status, 400);
  // Missing fields are empty, not a crash.
  const empty = await b.post(`${s.issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf') });
  assert.equal(empty.status, 400);
  // Positive control: another user signs in from the same page (which rotates the CSRF cookie).
  assert.equal((await login('carol', 'secret')).status, 303);
});

async function codeTokens(s: Server, b: TestBrowser, client: { client_id?: string; client_secret?: string }, scope = 'xmpp offline_access'): Promise<Record<string, unknown>> {
  const { verifier, challenge } = pkce();
  const page = await (await b.get(`${s.issuer}/oauth2/authorize?${query(client.client_id!, { scope, code_challenge: challenge })}`)).text();
  const back = await allow(s, b, page.includes('Allow access?') ? page : await signIn(s, b, client.client_id!));
  const r = await token(s.issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, basic(client.client_id!, client.client_secret!));
  assert.equal(r.status, 200, JSON.stringify(r.body));
  return r.body;
}

test("attack: revoking another client's token is refused and changes nothing; a client's own refresh token ends its grant", async (t) => {
  const s = await start(t);
  const victim = await register(s.issuer);
  const attacker = await register(s.issuer, { client_name: 'Attacker' });
  const vAuth = basic(victim.client_id!, victim.client_secret!);
  const aAuth = basic(attacker.client_id!, attacker.client_secret!);
  const b = new TestBrowser();
  await signIn(s, b, victim.client_id!);
  const tokens = await codeTokens(s, b, victim);
  const access = tokens['access_token'] as string;
  const refresh = tokens['refresh_token'] as string;
  const active = async (tok: string) => (await post(`${s.issuer}/oauth2/introspect`, { token: tok }, vAuth)).body['active'];

  for (const tok of [access, refresh]) {
    const r = await post(`${s.issuer}/oauth2/revoke`, { token: tok }, aAuth);
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: 'unauthorized_client', error_description: 'the token was not issued to this client' });
    assert.equal(await active(tok), true);
  }
  assert.ok(!s.log.text().includes('token revoked by its client'));
  // No client authentication, no token: refused.
  assert.equal((await post(`${s.issuer}/oauth2/revoke`, { token: access })).status, 401);
  const missing = await post(`${s.issuer}/oauth2/revoke`, {}, vAuth);
  assert.equal(missing.status, 400);
  assert.equal(missing.body['error'], 'invalid_request');
  // Unknown tokens: 200 (RFC 7009 §2.2).
  const unknown = await post(`${s.issuer}/oauth2/revoke`, { token: 'nonsense' }, vAuth);
  assert.equal(unknown.status, 200);
  assert.equal(unknown.text, '');

  // Its own access token: only that token goes.
  const own = await post(`${s.issuer}/oauth2/revoke`, { token: access }, vAuth);
  assert.equal(own.status, 200);
  assert.equal(own.text, '');
  assert.equal(await active(access), false);
  assert.equal(await active(refresh), true, 'revoking an access token leaves the grant');
  const found = await s.store.findToken(hashSecret(access));
  assert.ok(found !== null && found.token.revokedAt !== null && found.grant.revokedAt === null);
  assert.match(s.log.text(), /token revoked by its client/);

  // Its own refresh token: the whole grant, its other access tokens too (RFC 7009 §2.1).
  const second = await codeTokens(s, b, victim);
  assert.equal((await post(`${s.issuer}/oauth2/revoke`, { token: second['refresh_token'] as string }, vAuth)).status, 200);
  assert.equal(await active(second['access_token'] as string), false);
  assert.equal(await active(second['refresh_token'] as string), false);
  const grant = await s.store.findToken(hashSecret(second['refresh_token'] as string));
  assert.ok(grant !== null && grant.grant.revokedAt !== null);
  assert.equal(await active(refresh), true, 'another grant is untouched');
});

test('introspection: only an authenticated confidential client about its own live tokens, or a resource server', async (t) => {
  const s = await start(t);
  const mail = await register(s.issuer, { grant_types: ['password', 'refresh_token'], redirect_uris: undefined, scope: 'imap smtp xmpp offline_access' });
  const other = await register(s.issuer, { grant_types: ['password'], redirect_uris: undefined, scope: 'imap', client_name: 'Other' });
  const pub = await register(s.issuer, { token_endpoint_auth_method: 'none' });
  assert.equal(pub.status, 201, JSON.stringify(pub));
  const mAuth = basic(mail.client_id!, mail.client_secret!);
  const oAuth = basic(other.client_id!, other.client_secret!);
  const rs = basic('dovecot', RS_SECRET);
  const any = basic('anyscope', `${RS_SECRET}x`);
  const pw = async (scope: string, extra: Record<string, string> = {}) => {
    const r = await token(s.issuer, { grant_type: 'password', username: 'alice', password: 'secret', scope, ...extra }, mAuth);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const ask = (tok: string, auth?: string, issuer = s.issuer) => post(`${issuer}/oauth2/introspect`, { token: tok }, auth);
  const t1 = await pw('imap xmpp offline_access');
  const access = t1['access_token'] as string;
  const refresh = t1['refresh_token'] as string;

  const own = await ask(access, mAuth);
  const stored = (await s.store.findToken(hashSecret(access)))!;
  assert.deepEqual(own.body, {
    active: true,
    scope: 'imap xmpp offline_access',
    client_id: mail.client_id,
    username: 'alice',
    sub: 'alice@localhost',
    token_type: 'Bearer',
    exp: Math.floor(stored.token.expiresAt / 1000),
    iat: Math.floor(stored.token.createdAt / 1000),
    iss: s.issuer,
    aud: mail.client_id,
  });
  // Its refresh token, to the client itself: active, as a refresh_token.
  const ownRefresh = await ask(refresh, mAuth);
  assert.equal(ownRefresh.body['active'], true);
  assert.equal(ownRefresh.body['token_type'], 'refresh_token');
  assert.equal(ownRefresh.body['aud'], mail.client_id);

  // Unauthenticated, a public client, a wrong resource server secret: 401, nothing told.
  for (const [auth, label] of [[undefined, 'none'], [basic(pub.client_id!, ''), 'public'], [basic('dovecot', 'wrong'), 'wrong secret']] as const) {
    const r = await ask(access, auth);
    assert.equal(r.status, 401, label);
    assert.equal(r.body['error'], 'invalid_client', label);
    assert.equal(r.body['active'], undefined, label);
  }
  const pubPost = await post(`${s.issuer}/oauth2/introspect`, { token: access, client_id: pub.client_id! });
  assert.equal(pubPost.status, 401);
  // Another client: inactive, like an unknown token.
  assert.deepEqual((await ask(access, oAuth)).body, { active: false });
  assert.deepEqual((await ask('unknown', mAuth)).body, { active: false });
  const missing = await post(`${s.issuer}/oauth2/introspect`, {}, mAuth);
  assert.equal(missing.status, 400);
  assert.equal(missing.body['error'], 'invalid_request');

  // Resource servers: any token of the host, with its scope if the entry names one; never a
  // refresh token (RFC 6749 §1.5); never another host's token.
  assert.deepEqual((await ask(access, rs)).body, own.body);
  assert.equal((await ask(access, any)).body['active'], true);
  assert.deepEqual((await ask(refresh, rs)).body, { active: false });
  assert.deepEqual((await ask(refresh, any)).body, { active: false });
  const xmppOnly = (await pw('xmpp'))['access_token'] as string;
  assert.deepEqual((await ask(xmppOnly, rs)).body, { active: false }, 'no imap scope');
  assert.equal((await ask(xmppOnly, any)).body['active'], true, 'an entry without scope');
  const imapSmtp = (await pw('smtp imap'))['access_token'] as string;
  assert.equal((await ask(imapSmtp, rs)).body['active'], true, 'imap among others');
  assert.deepEqual((await ask(access, rs, s.otherIssuer)).body, { active: false }, "another host's token");
  assert.deepEqual((await ask(access, mAuth, s.otherIssuer)).status, 401, 'the client is not one of the other host');
  assert.match(s.log.text(), /introspection: token not active/);

  // A JWT access token (RFC 9068): aud is its resource.
  const jwt = (await pw('imap', { resource: RESOURCE }))['access_token'] as string;
  const jwtInfo = await ask(jwt, rs);
  assert.equal(jwtInfo.body['active'], true);
  assert.equal(jwtInfo.body['aud'], RESOURCE);

  // Spent, revoked, expired: inactive to everyone.
  const rotated = await token(s.issuer, { grant_type: 'refresh_token', refresh_token: refresh }, mAuth);
  assert.equal(rotated.status, 200);
  assert.deepEqual((await ask(refresh, mAuth)).body, { active: false }, 'a rotated refresh token');
  const fresh = (await pw('imap'))['access_token'] as string;
  await s.store.revokeToken(hashSecret(fresh), Date.now());
  assert.deepEqual((await ask(fresh, mAuth)).body, { active: false }, 'revoked token');
  assert.deepEqual((await ask(fresh, rs)).body, { active: false });
  const inGrant = await pw('imap');
  const g = (await s.store.findToken(hashSecret(inGrant['access_token'] as string)))!;
  await s.store.revokeGrant(g.grant.id, Date.now());
  assert.deepEqual((await ask(inGrant['access_token'] as string, mAuth)).body, { active: false }, 'revoked grant');
  // An expired token, stored as the issuer stores them: a live grant, expiry just past.
  const live = await pw('imap');
  const lg = (await s.store.findToken(hashSecret(live['access_token'] as string)))!;
  const now = Date.now();
  await s.store.saveToken({ hash: hashSecret('expired-token'), kind: 'access', grantId: lg.grant.id, scope: 'imap', createdAt: now - 7_200_000, expiresAt: now - 1000, revokedAt: null, usedAt: null });
  assert.deepEqual((await ask('expired-token', mAuth)).body, { active: false }, 'expired token');
  assert.deepEqual((await ask('expired-token', rs)).body, { active: false });
  await s.store.saveToken({ hash: hashSecret('later-token'), kind: 'access', grantId: lg.grant.id, scope: 'imap', createdAt: now, expiresAt: now + 3_600_000, revokedAt: null, usedAt: null });
  assert.equal((await ask('later-token', mAuth)).body['active'], true, 'positive control: the same, unexpired');
});

test('the password grant: only a registered client, valid scope and username, right password; the grant it stores', async (t) => {
  const s = await start(t, 'auth_failure_limit_user = 2');
  const legacy = await register(s.issuer, { grant_types: ['password', 'refresh_token'], redirect_uris: undefined, scope: 'xmpp imap offline_access', client_uri: 'https://legacy.example/' });
  const web = await register(s.issuer);
  const auth = basic(legacy.client_id!, legacy.client_secret!);
  const grant = (form: Record<string, string>, a = auth) => token(s.issuer, { grant_type: 'password', ...form }, a);
  const good = { username: 'alice', password: 'secret', scope: 'xmpp' };

  const web1 = await grant(good, basic(web.client_id!, web.client_secret!));
  assert.equal(web1.status, 400);
  assert.equal(web1.body['error'], 'unauthorized_client');
  for (const drop of ['username', 'password'] as const) {
    const { [drop]: _, ...rest } = good;
    const r = await grant(rest);
    assert.equal(r.body['error'], 'invalid_request', drop);
    assert.equal(r.body['error_description'], 'username and password are required');
  }
  assert.equal((await grant({ ...good, scope: 'xmpp root' })).body['error'], 'invalid_scope');
  const unregistered = await grant({ ...good, scope: 'smtp' });
  assert.equal(unregistered.body['error'], 'invalid_scope');
  assert.equal(unregistered.body['error_description'], 'no scope requested that the client registered');
  const badName = await grant({ ...good, username: 'a b' });
  assert.equal(badName.body['error'], 'invalid_grant');
  assert.equal(badName.body['error_description'], 'wrong username or password');
  assert.equal((await grant({ ...good, username: 'bob', password: 'wrong' })).body['error_description'], 'wrong username or password');
  assert.equal((await grant({ ...good, username: 'bob', password: 'wrong' })).body['error_description'], 'wrong username or password');
  const locked = await grant({ ...good, username: 'bob' });
  assert.equal(locked.status, 400);
  assert.deepEqual(locked.body, { error: 'invalid_grant', error_description: 'too many failed attempts; try again later' });
  assert.equal((await s.store.listGrants('localhost', 'bob')).length, 0);

  const before = Date.now();
  const ok = await grant({ ...good, username: 'Alice@localhost', scope: 'xmpp offline_access smtp' });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body['scope'], 'xmpp offline_access');
  assert.ok(typeof ok.body['refresh_token'] === 'string');
  const [g] = await s.store.listGrants('localhost', 'alice');
  assert.ok(g !== undefined);
  const { id, createdAt, lastUsedAt, authTime, ...rest } = g;
  assert.deepEqual(rest, { host: 'localhost', user: 'alice', clientId: legacy.client_id, clientHash: hashSecret(legacy.client_id!), clientName: 'Test Chat', clientUri: 'https://legacy.example/', scope: 'xmpp offline_access', revokedAt: null, generation: 0 });
  assert.ok(createdAt >= before && lastUsedAt === createdAt && authTime === createdAt, 'authenticated now, with the password');
  const found = await s.store.findToken(hashSecret(ok.body['access_token'] as string));
  assert.equal(found?.grant.id, id);
  assert.equal(found?.token.scope, 'xmpp offline_access');
  // No scope asked: none granted.
  const none = await grant({ username: 'alice', password: 'secret' });
  assert.equal(none.body['error'], 'invalid_scope');
  // With a resource: a JWT access token for alice.
  const jwt = await grant({ ...good, scope: 'imap', resource: RESOURCE });
  assert.equal(jwt.status, 200, JSON.stringify(jwt.body));
  const payload = JSON.parse(Buffer.from((jwt.body['access_token'] as string).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  assert.equal(payload['aud'], RESOURCE);
  assert.equal(payload['sub'], 'alice@localhost');
});
