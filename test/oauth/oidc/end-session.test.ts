/**
 * Signing out ends the session on the server, and OpenID Connect RP-Initiated Logout 1.0
 * (oidc/end-session.ts): the end_session_endpoint advertised in discovery; a logout with an
 * id_token_hint for the signed-in user and a registered post_logout_redirect_uri ends the
 * session and goes back with `state`; an unregistered URI is refused without a redirect; a
 * request that cannot be attributed is confirmed by the user on a CSRF-protected form; with no
 * valid hint there is no redirect, only Gatehouse's own signed-out page. The attack each
 * test tries: a copy of the `gh_session` cookie (a shared computer, a stolen cookie) still
 * acting for the user after they signed out, or a link that signs a user out, or redirects
 * them, on behalf of a stranger.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { field, TestBrowser } from '../../helpers/browser.js';
import { authorize, basic, pkce, REDIRECT, register, startOAuth, token } from '../../helpers/oauth.js';

const BYE = 'https://app.example.net/signed-out';

/** A client registered with a post-logout URI, and `user`'s id_token from the flow in browser `b`. */
async function signedIn(issuer: string, b: TestBrowser, user = 'alice'): Promise<{ clientId: string; idToken: string }> {
  const client = await register(issuer, { post_logout_redirect_uris: [BYE] });
  assert.equal(client.status, 201, JSON.stringify(client));
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge, browser: b, user, scope: 'openid xmpp' });
  const res = await token(
    issuer,
    { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier },
    basic(client.client_id!, client.client_secret!),
  );
  assert.equal(res.status, 200);
  return { clientId: client.client_id!, idToken: res.body['id_token'] as string };
}

/** A browser holding nothing but a copy of `b`'s session cookie. */
function copyOf(b: TestBrowser): TestBrowser {
  const thief = new TestBrowser();
  thief.jar.set('gh_session', b.jar.get('gh_session')!);
  return thief;
}

/** Whether browser `b` is signed in: the account page shows the signed-in forms, and /authorize skips the password. */
async function signedInAs(issuer: string, b: TestBrowser): Promise<{ account: boolean; skipsPassword: boolean }> {
  const account = (await (await b.get(`${issuer}/account`)).text()).includes('name="current_password"');
  const client = await register(issuer, { client_name: 'Another App' });
  const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
  const page = await (await b.get(`${issuer}/oauth2/authorize?${q}`)).text();
  assert.ok(page.includes('name="request"'), page);
  return { account, skipsPassword: !page.includes('name="password"') };
}

const IN = { account: true, skipsPassword: true };
const OUT = { account: false, skipsPassword: false };

function logout(issuer: string, b: TestBrowser, params: Record<string, string>): Promise<Response> {
  return b.get(`${issuer}/oauth2/logout?${new URLSearchParams(params)}`);
}

test('account sign-out ends the session on the server: a copied gh_session no longer opens /account nor skips the password at /authorize', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  await signedIn(issuer, b);
  const thief = copyOf(b);
  assert.deepEqual(await signedInAs(issuer, thief), IN);
  const page = await (await b.get(`${issuer}/account`)).text();
  const res = await b.post(`${issuer}/account/signout`, { csrf: field(page, 'csrf') });
  assert.equal(res.status, 303);
  assert.deepEqual(await signedInAs(issuer, thief), OUT);
  // Signing in again works, and the new session is a session.
  const fresh = new TestBrowser();
  await signedIn(issuer, fresh);
  assert.deepEqual(await signedInAs(issuer, fresh), IN);
});

test('discovery advertises the end_session_endpoint; registration keeps post_logout_redirect_uris under the redirect_uris rules', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  for (const path of ['/.well-known/openid-configuration', '/.well-known/oauth-authorization-server']) {
    const doc = (await (await fetch(`${issuer}${path}`)).json()) as Record<string, unknown>;
    assert.equal(doc['end_session_endpoint'], `${issuer}/oauth2/logout`);
  }
  const ok = await fetch(`${issuer}/oauth2/register`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ client_name: 'App', client_uri: 'https://app.example.net/', redirect_uris: [REDIRECT], post_logout_redirect_uris: [BYE] }),
  });
  assert.equal(ok.status, 201);
  assert.deepEqual(((await ok.json()) as Record<string, unknown>)['post_logout_redirect_uris'], [BYE]);
  for (const [uri, message] of [
    ['http://app.example.net/bye', /post_logout_redirect_uris\[0\]/],
    ['https://evil.example/bye', /post_logout_redirect_uris\[0\]/],
    ['https://app.example.net/bye#frag', /post_logout_redirect_uris\[0\]/],
  ] as const) {
    const r = await register(issuer, { post_logout_redirect_uris: [uri] });
    assert.equal(r.status, 400, uri);
    assert.equal(r.error, 'invalid_redirect_uri', uri);
    assert.match(r.error_description ?? '', message);
  }
  assert.equal((await register(issuer, { post_logout_redirect_uris: 'https://app.example.net/bye' })).status, 400, 'a string is not a list');
});

test("RP-initiated logout with the user's id_token_hint and a registered URI: the session ends on the server, back to the client with state", async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const { clientId, idToken } = await signedIn(issuer, b);
  const thief = copyOf(b);
  const res = await logout(issuer, b, { id_token_hint: idToken, client_id: clientId, post_logout_redirect_uri: BYE, state: 'xyz' });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), `${BYE}?state=xyz`);
  assert.match(res.headers.getSetCookie().find((c) => c.startsWith('gh_session=')) ?? '', /^gh_session=; Path=\/localhost; HttpOnly; SameSite=Lax; Max-Age=0/);
  assert.deepEqual(await signedInAs(issuer, thief), OUT);
  // Without a URI: the same, then Gatehouse's own page.
  const c = new TestBrowser();
  const other = await signedIn(issuer, c);
  const page = await logout(issuer, c, { id_token_hint: other.idToken });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /<h1>Signed out<\/h1>/);
  assert.deepEqual(await signedInAs(issuer, c), OUT);
});

test('logout never redirects to an unregistered URI, nor without a valid hint, nor for a hint naming another client', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const { clientId, idToken } = await signedIn(issuer, b);
  const stranger = await register(issuer, { post_logout_redirect_uris: ['https://app.example.net/elsewhere'] });

  const unregistered = await logout(issuer, b, { id_token_hint: idToken, post_logout_redirect_uri: 'https://app.example.net/elsewhere', state: 's' });
  assert.equal(unregistered.status, 400);
  assert.equal(unregistered.headers.get('location'), null);
  assert.match(await unregistered.text(), /did not register/);
  const mismatch = await logout(issuer, b, { id_token_hint: idToken, client_id: stranger.client_id!, post_logout_redirect_uri: BYE });
  assert.equal(mismatch.status, 400);
  assert.equal(mismatch.headers.get('location'), null);
  assert.deepEqual(await signedInAs(issuer, b), IN, 'refused requests sign nobody out');

  // A forged hint (the payload changed, the signature kept) is no hint: no redirect, confirmation.
  const [h, p, sig] = idToken.split('.');
  const claims = JSON.parse(Buffer.from(p!, 'base64url').toString()) as Record<string, unknown>;
  const forged = [h, Buffer.from(JSON.stringify({ ...claims, aud: stranger.client_id })).toString('base64url'), sig].join('.');
  const unattributed: Record<string, string>[] = [{ id_token_hint: forged, post_logout_redirect_uri: BYE }, { client_id: clientId, post_logout_redirect_uri: BYE, state: 's' }];
  for (const params of unattributed) {
    const res = await logout(issuer, b, params);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get('location'), null);
    assert.match(await res.text(), /<h1>Sign out\?<\/h1>/);
    assert.deepEqual(await signedInAs(issuer, b), IN, 'asked, not done');
  }
});

test('a logout that cannot be attributed is confirmed on a CSRF-protected form; the answer is honoured, and no redirect follows', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  await signedIn(issuer, b, 'alice');
  // Bob's id_token, while alice is signed in here: not hers to end.
  const bob = await signedIn(issuer, new TestBrowser(), 'bob');
  const ask = await logout(issuer, b, { id_token_hint: bob.idToken, post_logout_redirect_uri: BYE, state: 's' });
  assert.equal(ask.status, 200);
  const form = await ask.text();
  assert.match(form, /<h1>Sign out\?<\/h1>/);
  assert.match(form, /<form method="post" action="\/localhost\/oauth2\/logout\/confirm">/);
  assert.match(form, /alice@localhost/);

  // Forged or foreign answers do nothing: no token, a wrong one, another browser's cookie.
  const csrf = field(form, 'csrf');
  const request = field(form, 'request');
  const attacker = copyOf(b);
  for (const [who, body] of [
    [b, { request, decision: 'signout' }],
    [b, { request, csrf: csrf.slice(0, -1) + (csrf.endsWith('A') ? 'B' : 'A'), decision: 'signout' }],
    [attacker, { request, csrf, decision: 'signout' }],
  ] as const) {
    const r = await who.post(`${issuer}/oauth2/logout/confirm`, body);
    assert.equal(r.status, 403);
  }
  assert.deepEqual(await signedInAs(issuer, b), IN);

  const stay = await b.post(`${issuer}/oauth2/logout/confirm`, { request, csrf, decision: 'stay' });
  assert.equal(stay.status, 200);
  assert.match(await stay.text(), /still signed in/);
  assert.deepEqual(await signedInAs(issuer, b), IN);

  const thief = copyOf(b);
  const done = await b.post(`${issuer}/oauth2/logout/confirm`, { request, csrf, decision: 'signout' });
  assert.equal(done.status, 200);
  assert.equal(done.headers.get('location'), null, "alice never approved the client of bob's hint: no redirect to it");
  assert.match(await done.text(), /<h1>Signed out<\/h1>/);
  assert.deepEqual(await signedInAs(issuer, thief), OUT);
});

test('with no session and no valid hint: the signed-out page, no redirect', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const res = await logout(issuer, new TestBrowser(), { post_logout_redirect_uri: BYE, state: 's' });
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('location'), null);
  const page = await res.text();
  assert.match(page, /<h1>Signed out<\/h1>/);
  assert.ok(!page.includes('state'), 'state goes only to a redirect');
  const post = await fetch(`${issuer}/oauth2/logout`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'state=a&state=b' });
  assert.equal(post.status, 400, 'a repeated parameter');
});
