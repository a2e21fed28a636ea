/**
 * The authorization code flow end to end over real HTTP: registration, authorization with the
 * login and consent pages, token exchange, refresh, introspection, revocation; then every
 * attack named in the issue, tried for real.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestBrowser, field } from '../../helpers/browser.js';
import { authorize, basic, introspect, pkce, REDIRECT, register, startOAuth, token } from '../../helpers/oauth.js';

test('metadata lists exactly what is supported, at both RFC 8414 locations', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const a = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as Record<string, unknown>;
  const b = (await (await fetch(`${s.origin}/.well-known/oauth-authorization-server/localhost`)).json()) as Record<string, unknown>;
  assert.deepEqual(a, b);
  assert.equal(a['issuer'], issuer);
  assert.equal(a['token_endpoint'], `${issuer}/oauth2/token`);
  assert.deepEqual(a['code_challenge_methods_supported'], ['S256']);
  assert.deepEqual(a['response_types_supported'], ['code']);
  assert.deepEqual(a['grant_types_supported'], ['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code']);
  assert.equal(a['authorization_response_iss_parameter_supported'], true);
});

test('the whole flow: register, log in, consent, code, tokens, refresh, introspect, revoke', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  assert.equal(client.status, 201);
  assert.match(client.client_secret!, /^[0-9a-f]{64}$/);
  const auth = basic(client.client_id!, client.client_secret!);
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge, state: 'xyz' });
  assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
  assert.equal(back.searchParams.get('state'), 'xyz');
  assert.equal(back.searchParams.get('iss'), issuer);
  const code = back.searchParams.get('code')!;

  const first = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body['token_type'], 'Bearer');
  assert.equal(first.body['expires_in'], 3600);
  assert.equal(first.body['scope'], 'xmpp offline_access');
  const access = first.body['access_token'] as string;
  const refresh = first.body['refresh_token'] as string;

  const info = await introspect(issuer, access, auth);
  assert.equal(info['active'], true);
  assert.equal(info['username'], 'alice');
  assert.equal(info['sub'], 'alice@localhost');
  assert.equal(info['client_id'], client.client_id);
  assert.equal(info['scope'], 'xmpp offline_access');
  assert.ok(typeof info['exp'] === 'number' && typeof info['iat'] === 'number');

  const second = await token(issuer, { grant_type: 'refresh_token', refresh_token: refresh }, auth);
  assert.equal(second.status, 200);
  assert.notEqual(second.body['refresh_token'], refresh, 'refresh tokens rotate');
  assert.equal((await introspect(issuer, refresh, auth))['active'], false, 'a rotated refresh token is spent');

  const narrowed = await token(issuer, { grant_type: 'refresh_token', refresh_token: second.body['refresh_token'] as string, scope: 'xmpp offline_access' }, auth);
  assert.equal(narrowed.status, 200);
  const widened = await token(issuer, { grant_type: 'refresh_token', refresh_token: narrowed.body['refresh_token'] as string, scope: 'xmpp openid offline_access' }, auth);
  assert.equal(widened.body['error'], 'invalid_scope', 'never wider than the grant');
  // (Narrowing keeps the refresh token's scope: refresh-scope.test.ts.)

  const revoked = await fetch(`${issuer}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
    body: new URLSearchParams({ token: second.body['access_token'] as string }).toString(),
  });
  assert.equal(revoked.status, 200);
  assert.equal((await introspect(issuer, second.body['access_token'] as string, auth))['active'], false);
  const unknown = await fetch(`${issuer}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: 'token=nonsense' });
  assert.equal(unknown.status, 200, 'RFC 7009: unknown tokens get 200');
  // No secret reached the log.
  assert.ok(!s.log.text().includes(access) && !s.log.text().includes(client.client_secret!));
});

test('a session cookie spares the second login; a wrong password shows an error', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const browser = new TestBrowser();
  await authorize(issuer, client.client_id!, { challenge: pkce().challenge, browser });
  const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
  const again = await (await browser.get(`${issuer}/oauth2/authorize?${q}`)).text();
  assert.ok(again.includes('Allow access?') && !again.includes('name="password"'), 'consent directly');
  assert.ok(again.includes('alice@localhost'));

  const fresh = new TestBrowser();
  const login = await (await fresh.get(`${issuer}/oauth2/authorize?${q}`)).text();
  const wrong = await fresh.post(`${issuer}/oauth2/authorize/login`, { request: field(login, 'request'), csrf: field(login, 'csrf'), username: 'alice', password: 'nope' });
  assert.equal(wrong.status, 401);
  const page = await wrong.text();
  assert.match(page, /role="alert" id="login-error">Wrong username or password.</);
  // Focus goes to the password; both fields point at the error.
  assert.match(page, /id="password"[^>]*autofocus aria-invalid="true" aria-describedby="login-error"/);
  assert.ok(!fresh.jar.has('gh_session'));
});

test('pages: escaping, security headers, CSP, 303 after POST', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { client_name: '<script>alert(1)</script>' });
  const b = new TestBrowser();
  const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
  const res = await b.get(`${issuer}/oauth2/authorize?${q}`);
  const html = await res.text();
  assert.ok(!html.includes('<script>alert(1)'), 'client name rendered raw');
  assert.ok(html.includes('&lt;script&gt;alert(1)&lt;/script&gt;'));
  assert.equal(res.headers.get('content-security-policy'), "default-src 'self'; frame-ancestors 'none'");
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  const csrf = res.headers.getSetCookie().find((c) => c.startsWith('gh_csrf='))!;
  assert.match(csrf, /HttpOnly/);
  assert.match(csrf, /SameSite=Strict/);
  assert.match(csrf, /Path=\/localhost/);
  // The username is prepared as the XMPP server would: case-folded, own host stripped.
  const login = await b.post(`${issuer}/oauth2/authorize/login`, { request: field(html, 'request'), csrf: field(html, 'csrf'), username: 'ALICE@localhost', password: 'pw-alice' });
  assert.equal(login.status, 303);
  const bad = new TestBrowser();
  const page = await (await bad.get(`${issuer}/oauth2/authorize?${q}`)).text();
  const refused = await bad.post(`${issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: 'al ice', password: 'x' });
  assert.equal(refused.status, 400);
  assert.match(await refused.text(), /cannot contain spaces/);
});

test('attack: open redirect — an unregistered redirect_uri gets an error page, never a redirect', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  for (const redirect_uri of ['https://evil.example/cb', 'https://app.example.net/callback/../evil', 'https://app.example.net/callback?x=1', 'https://app.example.net.evil.example/callback']) {
    // Even with an otherwise broken request, the error must not go to the unvalidated URI.
    const q = new URLSearchParams({ response_type: 'token', client_id: client.client_id!, redirect_uri, scope: 'xmpp' });
    const res = await fetch(`${issuer}/oauth2/authorize?${q}`, { redirect: 'manual' });
    assert.equal(res.status, 400, redirect_uri);
    assert.equal(res.headers.get('location'), null);
    assert.match(await res.text(), /did not register/);
  }
  // A registered URI gets errors only once the user approved the client (redirect-trust.test.ts).
  const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp', state: 's1' });
  const res = await fetch(`${issuer}/oauth2/authorize?${q}`, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
});

test('attack: PKCE downgrade — no challenge, plain method, wrong or missing verifier', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const base = { response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp' };
  const { verifier, challenge } = pkce();
  for (const extra of [{}, { code_challenge: verifier, code_challenge_method: 'plain' }, { code_challenge: challenge }] as Record<string, string>[]) {
    const res = await fetch(`${issuer}/oauth2/authorize?${new URLSearchParams({ ...base, ...extra })}`, { redirect: 'manual' });
    // Not approved by anyone yet: the error is shown here (redirect-trust.test.ts).
    assert.equal(res.status, 400);
    assert.match(await res.text(), /\(invalid_request: code_challenge/);
  }
  const code = (await authorize(issuer, client.client_id!, { challenge })).searchParams.get('code')!;
  const missing = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT }, auth);
  assert.equal(missing.body['error'], 'invalid_request');
  const wrong = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: pkce().verifier }, auth);
  assert.equal(wrong.body['error'], 'invalid_grant');
  assert.ok(s.log.entries.some((e) => e.msg === 'OAuth request refused' && e.obj['cause'] === 'code_verifier does not match the code_challenge'));
  // The code was spent by that attempt: the right verifier now fails too.
  const late = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(late.body['error'], 'invalid_grant');
});

test('attack: code replay — refused, and the tokens the code issued are revoked', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const { verifier, challenge } = pkce();
  const code = (await authorize(issuer, client.client_id!, { challenge })).searchParams.get('code')!;
  const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
  const first = await token(issuer, form, auth);
  assert.equal(first.status, 200);
  const replay = await token(issuer, form, auth);
  assert.equal(replay.status, 400);
  assert.equal(replay.body['error'], 'invalid_grant');
  // The operator learns which grant was revoked, and why the request was refused.
  assert.ok(s.log.entries.some((e) => e.msg === 'authorization code replayed; grant revoked' && typeof e.obj['grant'] === 'string'));
  assert.ok(s.log.entries.some((e) => e.msg === 'OAuth request refused' && e.obj['cause'] === 'code already used'));
  assert.equal((await introspect(issuer, first.body['access_token'] as string, auth))['active'], false);
  const r = await token(issuer, { grant_type: 'refresh_token', refresh_token: first.body['refresh_token'] as string }, auth);
  assert.equal(r.body['error'], 'invalid_grant');
});

test('attack: refresh token reuse revokes the grant', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const { verifier, challenge } = pkce();
  const code = (await authorize(issuer, client.client_id!, { challenge })).searchParams.get('code')!;
  const first = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  const old = first.body['refresh_token'] as string;
  const rotated = await token(issuer, { grant_type: 'refresh_token', refresh_token: old }, auth);
  assert.equal(rotated.status, 200);
  const reuse = await token(issuer, { grant_type: 'refresh_token', refresh_token: old }, auth);
  assert.equal(reuse.body['error'], 'invalid_grant');
  assert.ok(s.log.entries.some((e) => e.msg === 'rotated refresh token reused; grant revoked' && typeof e.obj['grant'] === 'string'));
  assert.ok(s.log.entries.some((e) => e.msg === 'OAuth request refused' && e.obj['cause'] === 'refresh token already used'));
  // The legitimate holder's new tokens died with the grant.
  assert.equal((await introspect(issuer, rotated.body['access_token'] as string, auth))['active'], false);
  const next = await token(issuer, { grant_type: 'refresh_token', refresh_token: rotated.body['refresh_token'] as string }, auth);
  assert.equal(next.body['error'], 'invalid_grant');
});

test('attack: CSRF — forms without the cookie, with another request\'s token, or forged, are refused', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const q = (c: string) => new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp', code_challenge: c, code_challenge_method: 'S256' });
  const victim = new TestBrowser();
  const page = await (await victim.get(`${issuer}/oauth2/authorize?${q(pkce().challenge)}`)).text();
  // An attacker's page posting the victim's form fields from another site: no gh_csrf cookie.
  const attacker = new TestBrowser();
  const forged = await attacker.post(`${issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: 'alice', password: 'secret' });
  assert.equal(forged.status, 403);
  // The attacker's own form (own cookie), with the victim's request: csrf does not match.
  const own = await (await attacker.get(`${issuer}/oauth2/authorize?${q(pkce().challenge)}`)).text();
  const mixed = await attacker.post(`${issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(own, 'csrf'), username: 'alice', password: 'secret' });
  assert.equal(mixed.status, 403);
  // Consent forged for a signed-in victim: a cross-site POST carries no SameSite=Strict cookie.
  const victimIn = new TestBrowser();
  await authorize(issuer, client.client_id!, { challenge: pkce().challenge, browser: victimIn });
  const consentPage = await (await victimIn.get(`${issuer}/oauth2/authorize?${q(pkce().challenge)}`)).text();
  const crossSite = new TestBrowser();
  crossSite.jar.set('gh_session', victimIn.jar.get('gh_session')!); // Lax cookies ride top-level POSTs? Not SameSite=Strict ones.
  const res = await crossSite.post(`${issuer}/oauth2/authorize/consent`, { request: field(consentPage, 'request'), csrf: field(consentPage, 'csrf'), decision: 'allow' });
  assert.equal(res.status, 403);
  assert.equal(res.headers.get('location'), null);
});

test('attack: tampered and cross-host client_ids are refused everywhere', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const [h, p, sig] = client.client_id!.split('.');
  const payload = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  payload['redirect_uris'] = ['https://evil.example/cb'];
  const tampered = `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${sig}`;
  const q = new URLSearchParams({ response_type: 'code', client_id: tampered, redirect_uri: 'https://evil.example/cb', scope: 'xmpp', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
  const res = await fetch(`${issuer}/oauth2/authorize?${q}`, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
  const tok = await token(issuer, { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT, code_verifier: pkce().verifier }, basic(tampered, client.client_secret!));
  assert.equal(tok.status, 401);
  assert.equal(tok.body['error'], 'invalid_client');
  // A client of localhost at other.example: its id and secret mean nothing there.
  const other = s.issuer('other.example');
  const cross = await token(other, { grant_type: 'refresh_token', refresh_token: 'x' }, basic(client.client_id!, client.client_secret!));
  assert.equal(cross.body['error'], 'invalid_client');
  const crossAuth = await fetch(`${other}/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp', code_challenge: pkce().challenge, code_challenge_method: 'S256' })}`, { redirect: 'manual' });
  assert.equal(crossAuth.status, 400);
  // A wrong secret; no secret at all for a confidential client; two methods at once.
  assert.equal((await token(issuer, { grant_type: 'refresh_token', refresh_token: 'x' }, basic(client.client_id!, `${client.client_secret!.slice(0, -1)}${client.client_secret!.endsWith('0') ? '1' : '0'}`))).body['error'], 'invalid_client');
  assert.equal((await token(issuer, { grant_type: 'refresh_token', refresh_token: 'x', client_id: client.client_id! })).body['error'], 'invalid_client');
  assert.equal(
    (await token(issuer, { grant_type: 'refresh_token', refresh_token: 'x', client_secret: client.client_secret! }, basic(client.client_id!, client.client_secret!))).body['error'],
    'invalid_client',
  );
  // The right secret in the body is accepted (and the grant then judged on its own).
  assert.equal((await token(issuer, { grant_type: 'refresh_token', refresh_token: 'x', client_id: client.client_id!, client_secret: client.client_secret! })).body['error'], 'invalid_grant');
});

test('attack: duplicate parameters are refused', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const dupQuery = `response_type=code&client_id=${encodeURIComponent(client.client_id!)}&redirect_uri=${encodeURIComponent(REDIRECT)}&redirect_uri=${encodeURIComponent('https://evil.example/')}`;
  const res = await fetch(`${issuer}/oauth2/authorize?${dupQuery}`, { redirect: 'manual' });
  assert.equal(res.status, 400);
  assert.equal(res.headers.get('location'), null);
  const dupForm = await fetch(`${issuer}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth },
    body: 'grant_type=refresh_token&refresh_token=a&refresh_token=b',
  });
  assert.equal(dupForm.status, 400);
  assert.equal(((await dupForm.json()) as Record<string, unknown>)['error'], 'invalid_request');
});

test('a public client (PKCE, no secret) completes the flow; it cannot introspect', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { token_endpoint_auth_method: 'none', application_type: 'native', redirect_uris: ['http://127.0.0.1:8123/cb', 'org.example.chat:/cb'] });
  assert.equal(client.status, 201);
  assert.equal(client.client_secret, undefined);
  const { verifier, challenge } = pkce();
  // Any port on the loopback redirect (RFC 8252 §7.3).
  const back = await authorize(issuer, client.client_id!, { challenge, redirectUri: 'http://127.0.0.1:40555/cb' });
  assert.equal(back.port, '40555');
  const tok = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: 'http://127.0.0.1:40555/cb', code_verifier: verifier, client_id: client.client_id! });
  assert.equal(tok.status, 200, JSON.stringify(tok.body));
  const res = await fetch(`${issuer}/oauth2/introspect`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ token: tok.body['access_token'] as string, client_id: client.client_id! }).toString() });
  assert.equal(res.status, 401);
});

test('registration: RFC 7591 errors name the field; nothing is stored', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const bad = await register(issuer, { redirect_uris: ['http://app.example.net/cb'] });
  assert.equal(bad.status, 400);
  assert.equal(bad.error, 'invalid_redirect_uri');
  assert.match(bad.error_description!, /redirect_uris/);
  const bad2 = await register(issuer, { client_uri: 'http://app.example.net/' });
  assert.equal(bad2.error, 'invalid_client_metadata');
  assert.match(bad2.error_description!, /client_uri/);
  // The operator sees why (the description names the member, never its value).
  const refusals = s.log.entries.filter((e) => e.msg === 'client registration refused').map((e) => e.obj);
  assert.deepEqual(
    refusals.map((o) => [o['error'], o['reason']]),
    [
      ['invalid_redirect_uri', bad.error_description],
      ['invalid_client_metadata', bad2.error_description],
    ],
  );
  const a = await register(issuer);
  const b = await register(issuer);
  assert.notEqual(a.client_id, b.client_id);
  assert.notEqual(a.client_secret, b.client_secret);
});

test('registration is rate-limited per client address', async (t) => {
  const s = await startOAuth(t, 'oauth2_registration_rate_limit = 2');
  const issuer = s.issuer();
  assert.equal((await register(issuer)).status, 201);
  assert.equal((await register(issuer)).status, 201);
  const res = await fetch(`${issuer}/oauth2/register`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' });
  assert.equal(res.status, 429);
  assert.ok(Number(res.headers.get('retry-after')) > 0);
  assert.equal(((await res.json()) as Record<string, unknown>)['error'], 'temporarily_unavailable');
});
