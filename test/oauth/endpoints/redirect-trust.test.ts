/**
 * No automatic redirect to a site the user has not approved (RFC 9700 §4.11.2, RFC 6749
 * §10.15): anyone may register a redirect URI, so authorization errors, and `prompt=none`,
 * for a client the signed-in user never approved are answered on Gatehouse's own page. Once
 * the user approved that very client, errors go back to it as RFC 6749 §4.1.2.1 says, and
 * `prompt=none` issues a code.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestBrowser } from '../../helpers/browser.js';
import { authorize, basic, pkce, REDIRECT, register, signInAndAllow, startOAuth, token } from '../../helpers/oauth.js';

function authorizeUrl(issuer: string, clientId: string, extra: Record<string, string> = {}): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: clientId,
    redirect_uri: REDIRECT,
    scope: 'xmpp',
    state: 's1',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
    ...extra,
  });
  return `${issuer}/oauth2/authorize?${q}`;
}

/** The broken requests a stranger would use to bounce a browser to the registered site. */
const BOUNCERS: readonly [Record<string, string>, string][] = [
  [{ scope: 'bogus' }, 'invalid_scope'],
  [{ response_type: 'token' }, 'unsupported_response_type'],
  [{ code_challenge_method: 'plain' }, 'invalid_request'],
  [{ prompt: 'sometimes' }, 'invalid_request'],
  [{ request: 'eyJhbGciOiJub25lIn0.e30.' }, 'request_not_supported'],
  [{ request_uri: 'https://evil.example/r' }, 'request_uri_not_supported'],
];

async function expectOwnPage(res: Response, error: string, why: string): Promise<void> {
  assert.equal(res.status, 400, why);
  assert.equal(res.headers.get('location'), null, why);
  const page = await res.text();
  assert.match(page, /You have not approved this application before/, why);
  assert.ok(page.includes(`(${error}: `), `${why}: the page names ${error}`);
}

function expectRedirect(res: Response, issuer: string, error: string, why: string): void {
  assert.equal(res.status, 303, why);
  const back = new URL(res.headers.get('location')!);
  assert.equal(`${back.origin}${back.pathname}`, REDIRECT, why);
  assert.equal(back.searchParams.get('error'), error, why);
  assert.equal(back.searchParams.get('state'), 's1', why);
  assert.equal(back.searchParams.get('iss'), issuer, why);
  assert.equal(back.searchParams.get('code'), null, why);
}

test('attack: open redirector — errors for a client the user never approved stay on our page; after approval they go back', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const evil = await register(issuer, { client_name: 'Evil', client_uri: 'https://evil.example/', redirect_uris: ['https://evil.example/login'] });
  const evilUrl = (extra: Record<string, string>) => authorizeUrl(issuer, evil.client_id!, { redirect_uri: 'https://evil.example/login', ...extra });
  // No session at all.
  for (const [extra, error] of BOUNCERS) await expectOwnPage(await fetch(evilUrl(extra), { redirect: 'manual' }), error, `no session ${JSON.stringify(extra)}`);
  await expectOwnPage(await fetch(evilUrl({ prompt: 'none' }), { redirect: 'manual' }), 'login_required', 'prompt=none, no session');

  // A signed-in user who approved another client, not this one.
  const good = await register(issuer);
  const browser = new TestBrowser();
  await authorize(issuer, good.client_id!, { challenge: pkce().challenge, browser });
  for (const [extra, error] of BOUNCERS) await expectOwnPage(await browser.get(evilUrl(extra)), error, `signed in ${JSON.stringify(extra)}`);
  await expectOwnPage(await browser.get(evilUrl({ prompt: 'none' })), 'consent_required', 'prompt=none, signed in, no consent');

  // The client the user approved: errors are redirected to it, with state and iss.
  for (const [extra, error] of BOUNCERS) expectRedirect(await browser.get(authorizeUrl(issuer, good.client_id!, extra)), issuer, error, `approved ${JSON.stringify(extra)}`);
});

test('a consent ended by revocation no longer lets errors through', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const browser = new TestBrowser();
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge, browser });
  const tokens = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  expectRedirect(await browser.get(authorizeUrl(issuer, client.client_id!, { scope: 'bogus' })), issuer, 'invalid_scope', 'approved');
  const revoked = await fetch(`${issuer}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: new URLSearchParams({ token: tokens.body['refresh_token'] as string }).toString() });
  assert.equal(revoked.status, 200);
  await expectOwnPage(await browser.get(authorizeUrl(issuer, client.client_id!, { scope: 'bogus' })), 'invalid_scope', 'grant revoked');
});

test('prompt=none: a code at once with a session and consent; login_required or consent_required otherwise', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const browser = new TestBrowser();
  await authorize(issuer, client.client_id!, { challenge: pkce().challenge, browser, scope: 'openid xmpp' });

  const { verifier, challenge } = pkce();
  const silent = await browser.get(authorizeUrl(issuer, client.client_id!, { prompt: 'none', scope: 'openid xmpp', code_challenge: challenge, nonce: 'n-1' }));
  assert.equal(silent.status, 303);
  const back = new URL(silent.headers.get('location')!);
  assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
  assert.equal(back.searchParams.get('state'), 's1');
  assert.equal(back.searchParams.get('iss'), issuer);
  const tokens = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.equal(tokens.body['scope'], 'openid xmpp');
  assert.equal(typeof tokens.body['id_token'], 'string');

  // Consent on record, but the session is older than max_age allows: login_required, redirected.
  expectRedirect(await browser.get(authorizeUrl(issuer, client.client_id!, { prompt: 'none', max_age: '0' })), issuer, 'login_required', 'max_age=0');
  // A scope the user never granted this client: consent_required, redirected.
  expectRedirect(await browser.get(authorizeUrl(issuer, client.client_id!, { prompt: 'none', scope: 'xmpp offline_access' })), issuer, 'consent_required', 'new scope');
  // Without a session: our page.
  await expectOwnPage(await fetch(authorizeUrl(issuer, client.client_id!, { prompt: 'none' }), { redirect: 'manual' }), 'login_required', 'no session');
});

test('redirect_uri omitted at authorize and token (one registered) redeems the code; sent at authorize, it is required at token', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const flow = async (redirect: boolean) => {
    const { verifier, challenge } = pkce();
    const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id!, scope: 'xmpp', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' });
    if (redirect) q.set('redirect_uri', REDIRECT);
    const back = await signInAndAllow(`${issuer}/oauth2/authorize?${q}`, issuer);
    assert.equal(`${back.origin}${back.pathname}`, REDIRECT);
    return { code: back.searchParams.get('code')!, verifier };
  };
  const a = await flow(false);
  const ok = await token(issuer, { grant_type: 'authorization_code', code: a.code, code_verifier: a.verifier }, auth);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  // Omitted at authorize, the registered URI at token: the same place, accepted.
  const b = await flow(false);
  assert.equal((await token(issuer, { grant_type: 'authorization_code', code: b.code, code_verifier: b.verifier, redirect_uri: REDIRECT }, auth)).status, 200);
  // Sent at authorize, omitted at token: refused (RFC 6749 §4.1.3).
  const c = await flow(true);
  assert.equal((await token(issuer, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier }, auth)).body['error'], 'invalid_grant');
});

test('POST /oauth2/authorize takes the form-encoded parameters; an OpenID Connect request without redirect_uri is refused on our page', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const b = new TestBrowser();
  const { challenge } = pkce();
  const page = await b.post(`${issuer}/oauth2/authorize`, { response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' });
  assert.equal(page.status, 200);
  assert.match(await page.text(), /name="password"/);
  const oidc = await fetch(`${issuer}/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.client_id!, scope: 'openid xmpp', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' })}`, { redirect: 'manual' });
  assert.equal(oidc.status, 400);
  assert.equal(oidc.headers.get('location'), null);
  assert.match(await oidc.text(), /redirect_uri is required for OpenID Connect/);
});

test('offline_access is neither granted nor promised to a client that cannot get a refresh token', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { grant_types: ['authorization_code'] });
  assert.equal(client.status, 201);
  const b = new TestBrowser();
  const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp offline_access', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
  await authorize(issuer, client.client_id!, { challenge: pkce().challenge, browser: b, scope: 'xmpp' });
  const consent = await (await b.get(`${issuer}/oauth2/authorize?${q}`)).text();
  assert.match(consent, /Allow access\?/);
  assert.ok(!consent.includes('offline_access'), 'not promised on the consent page');
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge, scope: 'xmpp offline_access' });
  const tokens = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, basic(client.client_id!, client.client_secret!));
  assert.equal(tokens.status, 200);
  assert.equal(tokens.body['scope'], 'xmpp');
  assert.equal(tokens.body['refresh_token'], undefined);
});

test('attack: loopback look-alikes at the authorization endpoint get no code and no redirect, even for an approved client; another port does', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const registered = 'http://127.0.0.1:8123/cb';
  const client = await register(issuer, { redirect_uris: [registered], token_endpoint_auth_method: 'none' });
  assert.equal(client.status, 201, JSON.stringify(client));
  const browser = new TestBrowser();
  // Positive control: the user approves the client at an ephemeral port (RFC 8252 §7.3); the code goes there.
  const { verifier, challenge } = pkce();
  const back = await signInAndAllow(authorizeUrl(issuer, client.client_id!, { redirect_uri: 'http://127.0.0.1:40555/cb', code_challenge: challenge }), issuer, { browser });
  assert.equal(`${back.origin}${back.pathname}`, 'http://127.0.0.1:40555/cb');
  const code = back.searchParams.get('code')!;
  const ok = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: 'http://127.0.0.1:40555/cb', code_verifier: verifier, client_id: client.client_id! });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));

  for (const uri of [
    'https://evil.example/http://127.0.0.1:8123/cb',
    'https://evil.example/?r=http://127.0.0.1:1/cb',
    'http://127.0.0.1:40555/cb#evil',
    'http://127.0.0.1:65536/cb',
    'http://127.0.0.1:08123/cb',
    'http://localhost:8123/cb',
    'http://127.0.0.1:8123/cb/',
    'http://127.0.0.1:8123/CB',
  ]) {
    // prompt=none with the session and consent of the positive control would issue a code at once.
    const res = await browser.get(authorizeUrl(issuer, client.client_id!, { redirect_uri: uri, prompt: 'none' }));
    assert.equal(res.status, 400, uri);
    assert.equal(res.headers.get('location'), null, uri);
    assert.match(await res.text(), /did not register/, uri);
  }
  // The same request with the registered URI's host at another port: a code at once.
  const silent = await browser.get(authorizeUrl(issuer, client.client_id!, { redirect_uri: 'http://127.0.0.1:1/cb', prompt: 'none' }));
  assert.equal(silent.status, 303);
  const again = new URL(silent.headers.get('location')!);
  assert.equal(`${again.origin}${again.pathname}`, 'http://127.0.0.1:1/cb');
  assert.ok(again.searchParams.get('code'));
});
