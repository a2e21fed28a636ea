/**
 * OpenID Connect `prompt` and `max_age` (OIDC Core §3.1.2.1) at the authorization endpoint:
 * a relying party that asks for a fresh sign-in gets one even when the browser has a
 * session, and cannot be handed a code on the old session by skipping the login page;
 * `prompt=none` answers without showing a page.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalJWKSet, jwtVerify, type JSONWebKeySet } from 'jose';
import { field, TestBrowser } from '../../helpers/browser.js';
import { basic, pkce, REDIRECT, register, startOAuth, token } from '../../helpers/oauth.js';
import { signInAndAllow } from '../../helpers/oidc-server.js';

function authorizeUrl(issuer: string, clientId: string, challenge: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'openid xmpp',
    state: 's1',
    code_challenge: challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return `${issuer}/oauth2/authorize?${q}`;
}

/** A browser signed in as alice through one whole authorization. */
async function signedInBrowser(issuer: string, clientId: string): Promise<TestBrowser> {
  const browser = new TestBrowser();
  const back = await signInAndAllow(authorizeUrl(issuer, clientId, pkce().challenge), issuer, { browser });
  assert.ok(back.searchParams.get('code'));
  return browser;
}

const isLoginPage = (html: string): boolean => html.includes('name="password"');

test('prompt=login and max_age=0 show the login page to a signed-in browser; the id_token carries the new auth_time', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { scope: 'openid xmpp' });
  const browser = await signedInBrowser(issuer, client.client_id!);
  // Without prompt: the session spares the login.
  assert.ok(!isLoginPage(await (await browser.get(authorizeUrl(issuer, client.client_id!, pkce().challenge))).text()));
  assert.ok(!isLoginPage(await (await browser.get(authorizeUrl(issuer, client.client_id!, pkce().challenge, { max_age: '3600' }))).text()));
  for (const extra of [{ prompt: 'login' }, { max_age: '0' }, { prompt: 'login consent' }, { prompt: 'select_account' }] as Record<string, string>[]) {
    assert.ok(isLoginPage(await (await browser.get(authorizeUrl(issuer, client.client_id!, pkce().challenge, extra))).text()), JSON.stringify(extra));
  }

  // auth_time is in seconds: move this process's clock (where the server runs) past the first sign-in.
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 5000 });
  const before = Math.floor(Date.now() / 1000);
  const { verifier, challenge } = pkce();
  const back = await signInAndAllow(authorizeUrl(issuer, client.client_id!, challenge, { prompt: 'login' }), issuer, { browser });
  const res = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, basic(client.client_id!, client.client_secret!));
  assert.equal(res.status, 200);
  const jwks = createLocalJWKSet((await (await fetch(`${issuer}/oauth2/jwks`)).json()) as JSONWebKeySet);
  const { payload } = await jwtVerify(res.body['id_token'] as string, jwks);
  assert.equal(payload['auth_time'], before, 'auth_time is the new sign-in');
});

test('attack: with prompt=login, posting the consent form on the old session gives the login page, never a code', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { scope: 'openid xmpp' });
  const browser = await signedInBrowser(issuer, client.client_id!);
  const login = await (await browser.get(authorizeUrl(issuer, client.client_id!, pkce().challenge, { prompt: 'login' }))).text();
  assert.ok(isLoginPage(login));
  // Skip the login form: straight to the consent endpoint with the request token and CSRF token.
  const consent = await browser.post(`${issuer}/oauth2/authorize/consent`, { request: field(login, 'request'), csrf: field(login, 'csrf'), decision: 'allow' });
  assert.notEqual(consent.status, 303);
  assert.equal(consent.headers.get('location'), null);
  const again = await consent.text();
  assert.ok(isLoginPage(again));
  // A login page for this very request: the same request token and CSRF token, the client named.
  assert.equal(field(again, 'request'), field(login, 'request'));
  assert.equal(field(again, 'csrf'), field(login, 'csrf'));
  assert.ok(again.includes('Test Chat'), 'the client is named');
  // The consent page URL itself shows the login page too.
  const page = await browser.get(`${issuer}/oauth2/authorize/consent?request=${encodeURIComponent(field(login, 'request'))}`);
  assert.ok(isLoginPage(await page.text()));
});

test('prompt=none: never a page of ours to fill in; a code with consent on record, login_required after max_age', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { scope: 'openid xmpp' });
  // Without a session the user is unknown, so nothing was approved: our error page, no redirect
  // (redirect-trust.test.ts has every case).
  const anonymous = await new TestBrowser().get(authorizeUrl(issuer, client.client_id!, pkce().challenge, { prompt: 'none' }));
  assert.equal(anonymous.status, 400);
  assert.match(await anonymous.text(), /\(login_required: /);
  const browser = await signedInBrowser(issuer, client.client_id!);
  const silent = await browser.get(authorizeUrl(issuer, client.client_id!, pkce().challenge, { prompt: 'none' }));
  assert.equal(silent.status, 303);
  assert.ok(new URL(silent.headers.get('location')!).searchParams.get('code'), 'consent on record: a code');
  const old = await browser.get(authorizeUrl(issuer, client.client_id!, pkce().challenge, { prompt: 'none', max_age: '0' }));
  assert.equal(old.status, 303);
  const back = new URL(old.headers.get('location')!);
  assert.equal(back.searchParams.get('error'), 'login_required');
  assert.equal(back.searchParams.get('state'), 's1');
  assert.equal(back.searchParams.get('iss'), issuer);
  assert.equal(back.searchParams.get('code'), null);
});

test('malformed prompt and max_age are invalid_request, redirected with state (to a client the user approved)', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { scope: 'openid xmpp' });
  const browser = await signedInBrowser(issuer, client.client_id!);
  for (const extra of [{ prompt: 'none login' }, { prompt: 'sometimes' }, { max_age: '-1' }, { max_age: 'soon' }, { max_age: '1e9' }] as Record<string, string>[]) {
    const res = await browser.get(authorizeUrl(issuer, client.client_id!, pkce().challenge, extra));
    assert.equal(res.status, 303, JSON.stringify(extra));
    const back = new URL(res.headers.get('location')!);
    assert.equal(back.searchParams.get('error'), 'invalid_request', JSON.stringify(extra));
    assert.equal(back.searchParams.get('state'), 's1');
  }
});
