/**
 * The authorization endpoint, its login and consent pages and code issuance, attacked over
 * HTTP against a real app with a real SQLite store: errors of an unapproved client stay on our
 * page (RFC 9700 §4.11.2), `prompt` and `max_age` (OIDC Core §3.1.2.1) force a fresh sign-in,
 * and a consent or a code never comes without a fitting session and a form made for it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { issueSession, sessionCookie } from '../../../src/oauth/session/session.js';
import { hashSecret } from '../../../src/oauth/tokens/secrets.js';
import { TestBrowser, field } from '../../helpers/browser.js';
import { allow, errorText, logged, query, refusals, signIn, start, unescape } from '../../helpers/oauth-attacks.js';
import { pkce, REDIRECT, register } from '../../helpers/oauth.js';
import { recordQueries } from '../../helpers/record.js';

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
      assert.equal(res.status, 400, `${r.error} ${JSON.stringify(r.over)}`);
      assert.equal(res.headers.get('location'), null, 'never redirected');
      assert.deepEqual(errorText(await res.text()), {
        heading: 'The application cannot continue',
        message: `Test Chat sent a request that cannot be completed (${r.error}: ${r.description}). You have not approved this application before, so you are not sent back to it automatically.`,
      });
    }
  }
  const shownLog = logged(s, 'authorization error shown, not redirected: client not approved by this user');
  assert.equal(shownLog.length, 2 * refusals('').length);
  assert.deepEqual(shownLog[0], { client: 'Test Chat', error: 'request_not_supported' });

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
  // Each parameter at most once (RFC 6749 §3.1): the form parser's reason is shown.
  const dup = await page(`${query(web.client_id!)}&scope=openid`);
  assert.equal(dup.status, 400);
  assert.equal(errorText(dup.html).heading, 'Invalid request');
  assert.match(errorText(dup.html).message, /scope/);
  const unknown = await page(query('not-a-client'));
  assert.equal(unknown.status, 400);
  assert.deepEqual(errorText(unknown.html), { heading: 'Unknown application', message: 'The application that sent you here is not registered with this server.' });
  const elsewhere = await page(query(web.client_id!, { redirect_uri: 'https://evil.example/cb' }));
  assert.equal(elsewhere.status, 400);
  assert.deepEqual(errorText(elsewhere.html), { heading: 'Invalid request', message: 'The application asked to return you to an address it did not register.' });
  // OpenID Connect requires redirect_uri (OIDC Core §3.1.2.1), even for one registered URI.
  for (const scope of ['openid', 'xmpp openid', 'openid xmpp']) {
    const oidc = await page(query(web.client_id!, { redirect_uri: undefined, scope }));
    assert.equal(oidc.status, 400, scope);
    assert.deepEqual(errorText(oidc.html), { heading: 'Invalid request', message: 'The application did not say where to return you (redirect_uri is required for OpenID Connect).' }, scope);
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
  assert.deepEqual(logged(s, 'user signed in'), [{ user: 'alice', client: 'Test Chat' }]);
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
  assert.deepEqual(logged(s, 'user granted access'), [
    { user: 'alice', client: 'Test Chat', scope: 'xmpp' },
    { user: 'alice', client: 'Bare', scope: 'openid xmpp' },
  ]);
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
  assert.deepEqual(errorText(await noSession.text()), { heading: 'Signed out', message: 'Your sign-in has expired. Go back to the application and start again.' });
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
  assert.deepEqual(logged(s, 'user denied access'), Array(3).fill({ user: 'alice', client: 'Test Chat' }));
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
    assert.deepEqual(errorText(await res.text()), { heading: 'Form expired', message: 'This request has expired. Go back to the application and start again.' });
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
  assert.deepEqual(Object.fromEntries(new URL(wider.headers.get('location')!).searchParams), { error: 'consent_required', error_description: 'the user must approve this application', state: 'st-1', iss: s.issuer });
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
  assert.match(await empty.text(), /name="username"[^>]*value=""/);
  // The page names the client the request came from.
  assert.match(badHtml, /Test Chat/);
  // Positive control: another user signs in from the same page (which rotates the CSRF cookie).
  assert.equal((await login('carol', 'secret')).status, 303);
});

test('max_age against a session signed in ten minutes ago: too old for 60 s, young enough for an hour', async (t) => {
  const s = await start(t);
  const web = await register(s.issuer);
  const b = new TestBrowser();
  await allow(s, b, await signIn(s, b, web.client_id!));
  // The browser's session, replaced by one of the same user issued ten minutes ago.
  const tenMinutesAgo = Date.now() - 600_000;
  const old = await issueSession(s.host, { user: 'alice', authTime: Math.floor(tenMinutesAgo / 1000), generation: 0 }, tenMinutesAgo);
  b.jar.set('gh_session', sessionCookie(s.host, old).split(';')[0]!.slice('gh_session='.length));
  const page = async (over: Record<string, string>) => (await b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!, over)}`)).text();
  assert.match(await page({ max_age: '3600' }), /Allow access\?/);
  assert.match(await page({ max_age: '601' }), /Allow access\?/);
  assert.match(await page({ max_age: '60' }), /name="password"/);
  assert.match(await page({ max_age: '599' }), /name="password"/);
  const none = async (maxAge: string) => {
    const res = await b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!, { prompt: 'none', max_age: maxAge })}`);
    assert.equal(res.status, 303);
    return new URL(res.headers.get('location')!).searchParams;
  };
  assert.equal((await none('60')).get('error'), 'login_required');
  assert.ok((await none('3600')).get('code'));
});

test('a request made for a client whose registration key was retired since: its consent page says it is no longer registered', async (t) => {
  // Three instances in turn, with one issuer: the client is registered under key C; the user
  // signs in while C still verifies (A signs); then C is retired. The request token and the
  // session, signed with keys derived from A, stay valid; the client_id does not.
  const [a, c] = ['registration-key-a-0123456789', 'registration-key-c-0123456789'];
  const issuerOrigin = 'https://auth.example.org';
  const registered = await start(t, '', { keys: [c], issuerOrigin });
  const client = await register(`${registered.origin}/localhost`);
  assert.equal(client.status, 201);
  const both = await start(t, '', { keys: [a, c], issuerOrigin });
  const b = new TestBrowser();
  const page = await (await b.get(`${both.origin}/localhost/oauth2/authorize?${query(client.client_id!)}`)).text();
  const login = await b.post(`${both.origin}/localhost/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: 'alice', password: 'secret' });
  assert.equal(login.status, 303);
  const consentPath = login.headers.get('location')!;
  assert.match(await (await b.get(`${both.origin}${consentPath}`)).text(), /Allow access\?/);
  const retired = await start(t, '', { keys: [a], issuerOrigin });
  const res = await b.get(`${retired.origin}${consentPath}`);
  assert.equal(res.status, 400);
  assert.deepEqual(errorText(await res.text()), { heading: 'Unknown application', message: 'The application is no longer registered with this server.' });
  // Positive control: where C still verifies, the same request and session show the consent page.
  assert.match(await (await b.get(`${both.origin}${consentPath}`)).text(), /Allow access\?/);
});

test('a login form without a password, or with an empty one, is refused without asking the script', async (t) => {
  const recorded = recordQueries(t);
  const s = await start(t);
  const web = await register(s.issuer);
  const b = new TestBrowser();
  const page = await (await b.get(`${s.issuer}/oauth2/authorize?${query(web.client_id!)}`)).text();
  for (const password of [undefined, '']) {
    const form: Record<string, string> = { request: field(page, 'request'), csrf: field(page, 'csrf'), username: 'alice' };
    if (password !== undefined) form['password'] = password;
    const res = await b.post(`${s.issuer}/oauth2/authorize/login`, form);
    assert.equal(res.status, 401, `password ${JSON.stringify(password)}`);
    assert.ok(unescape(await res.text()).includes('Wrong username or password.'));
  }
  // Positive control: a sign-in with the password reaches the script and is recorded.
  await signIn(s, b, web.client_id!);
  assert.deepEqual(recorded(), ['auth:alice:localhost:secret']);
});
