/**
 * The bindings a token request must meet, each tried as an attack against a running server:
 * a code redeemed by another client, a code redeemed for another redirect_uri, a code (or a
 * refresh token) used after it expired, a refresh token presented by another client. Each
 * attack is paired with the legitimate request that succeeds, so a refusal proves the binding
 * and not a broken flow.
 *
 * Expiry is reached by moving the clock of this process (node:test's mocked Date; timers stay
 * real), where the server runs: no sleeping, and the boundary itself is tried.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { CODE_TTL_MS } from '../../../src/oauth/authorize/issue-code.js';
import { authorize, basic, introspect, pkce, REDIRECT, register, signInAndAllow, startOAuth, token, type OAuthServer, type Registered } from '../../helpers/oauth.js';

const OTHER_REDIRECT = 'https://app.example.net/other-callback';

async function codeFor(issuer: string, client: Registered, opts: { redirectUri?: string } = {}): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge, ...opts });
  const code = back.searchParams.get('code');
  assert.ok(code !== null, `no code in ${back}`);
  return { code, verifier };
}

const authOf = (c: Registered) => basic(c.client_id!, c.client_secret!);

/** The reasons the server logged for refused token requests (never sent to the client). */
const refusals = (s: OAuthServer): unknown[] => s.log.entries.filter((e) => e.msg === 'OAuth request refused').map((e) => e.obj['cause']);

/** Date.now() under the test's control from here on; timers stay real. */
function controlClock(t: TestContext): void {
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() });
}

test('attack: a code redeemed by another client of the same host is refused; its own client then redeems it', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const victim = await register(issuer);
  const attacker = await register(issuer); // same redirect URI, same grant types: only the client differs
  const { code, verifier } = await codeFor(issuer, victim);
  const stolen = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(attacker));
  assert.equal(stolen.status, 400, JSON.stringify(stolen.body));
  assert.equal(stolen.body['error'], 'invalid_grant');
  assert.equal(stolen.body['access_token'], undefined);
  assert.deepEqual(refusals(s), ['code of another client']);
  // The code was valid all along: its own client redeems it.
  const own = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(victim));
  assert.equal(own.status, 200, JSON.stringify(own.body));
  assert.equal((await introspect(issuer, own.body['access_token'] as string, authOf(victim)))['client_id'], victim.client_id);
});

test('attack: a code redeemed with another of the client\'s registered redirect URIs, or none, is refused and spent', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { redirect_uris: [REDIRECT, OTHER_REDIRECT] });
  assert.equal(client.status, 201);
  for (const redirect of [OTHER_REDIRECT, `${REDIRECT}/`, undefined]) {
    const { code, verifier } = await codeFor(issuer, client);
    const form: Record<string, string> = { grant_type: 'authorization_code', code, code_verifier: verifier };
    if (redirect !== undefined) form['redirect_uri'] = redirect;
    const res = await token(issuer, form, authOf(client));
    assert.equal(res.status, 400, `${redirect}: ${JSON.stringify(res.body)}`);
    assert.equal(res.body['error'], 'invalid_grant', String(redirect));
    // The failed attempt spent the code: the right redirect_uri no longer redeems it.
    const late = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(client));
    assert.equal(late.body['error'], 'invalid_grant', String(redirect));
  }
  assert.deepEqual(refusals(s).filter((c) => c !== 'code already used'), Array(3).fill('redirect_uri differs from the authorization request'));
  // The same flow with the redirect_uri the code was sent to succeeds, for either URI.
  for (const redirect of [REDIRECT, OTHER_REDIRECT]) {
    const { code, verifier } = await codeFor(issuer, client, { redirectUri: redirect });
    const ok = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: redirect, code_verifier: verifier }, authOf(client));
    assert.equal(ok.status, 200, `${redirect}: ${JSON.stringify(ok.body)}`);
  }
});

test('attack: a code whose request named no redirect_uri is refused with a redirect_uri it was not sent to', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = authOf(client);
  const flow = async () => {
    const { verifier, challenge } = pkce();
    const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id!, scope: 'xmpp', state: 's1', code_challenge: challenge, code_challenge_method: 'S256' });
    const back = await signInAndAllow(`${issuer}/oauth2/authorize?${q}`, issuer);
    return { code: back.searchParams.get('code')!, verifier };
  };
  const a = await flow();
  const wrong = await token(issuer, { grant_type: 'authorization_code', code: a.code, code_verifier: a.verifier, redirect_uri: 'https://app.example.net/elsewhere' }, auth);
  assert.equal(wrong.body['error'], 'invalid_grant');
  // Without one, as the authorization request was, the next code is redeemed; so is one with
  // the client's only registered URI, where the code was sent.
  const b = await flow();
  assert.equal((await token(issuer, { grant_type: 'authorization_code', code: b.code, code_verifier: b.verifier }, auth)).status, 200);
  const c = await flow();
  assert.equal((await token(issuer, { grant_type: 'authorization_code', code: c.code, code_verifier: c.verifier, redirect_uri: REDIRECT }, auth)).status, 200);
});

test('attack: a code presented when its lifetime is over is refused; one a millisecond younger is redeemed', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  controlClock(t);
  const young = await codeFor(issuer, client);
  const old = await codeFor(issuer, client); // both issued at the same (frozen) instant
  t.mock.timers.tick(CODE_TTL_MS - 1);
  const ok = await token(issuer, { grant_type: 'authorization_code', code: young.code, redirect_uri: REDIRECT, code_verifier: young.verifier }, authOf(client));
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  t.mock.timers.tick(1);
  const expired = await token(issuer, { grant_type: 'authorization_code', code: old.code, redirect_uri: REDIRECT, code_verifier: old.verifier }, authOf(client));
  assert.equal(expired.status, 400, JSON.stringify(expired.body));
  assert.equal(expired.body['error'], 'invalid_grant');
  assert.equal(expired.body['access_token'], undefined);
  assert.deepEqual(refusals(s), ['code expired']);
});

test('attack: a refresh token presented when its lifetime is over is refused; a millisecond earlier it rotates', async (t) => {
  const s = await startOAuth(t, 'oauth2_refresh_token_ttl = 600');
  const issuer = s.issuer();
  const client = await register(issuer);
  controlClock(t);
  const a = await codeFor(issuer, client);
  const b = await codeFor(issuer, client);
  const first = await token(issuer, { grant_type: 'authorization_code', code: a.code, redirect_uri: REDIRECT, code_verifier: a.verifier }, authOf(client));
  const second = await token(issuer, { grant_type: 'authorization_code', code: b.code, redirect_uri: REDIRECT, code_verifier: b.verifier }, authOf(client));
  assert.equal(typeof first.body['refresh_token'], 'string');
  assert.equal(typeof second.body['refresh_token'], 'string');
  t.mock.timers.tick(600_000 - 1);
  const ok = await token(issuer, { grant_type: 'refresh_token', refresh_token: first.body['refresh_token'] as string }, authOf(client));
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  t.mock.timers.tick(1);
  const expired = await token(issuer, { grant_type: 'refresh_token', refresh_token: second.body['refresh_token'] as string }, authOf(client));
  assert.equal(expired.status, 400, JSON.stringify(expired.body));
  assert.equal(expired.body['error'], 'invalid_grant');
  assert.deepEqual(refusals(s), ['refresh token expired']);
});

test('attack: a refresh token presented by another client is refused and not spent', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const victim = await register(issuer);
  const attacker = await register(issuer);
  const { code, verifier } = await codeFor(issuer, victim);
  const issued = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(victim));
  const refresh = issued.body['refresh_token'] as string;
  assert.equal(typeof refresh, 'string');
  const stolen = await token(issuer, { grant_type: 'refresh_token', refresh_token: refresh }, authOf(attacker));
  assert.equal(stolen.status, 400, JSON.stringify(stolen.body));
  assert.equal(stolen.body['error'], 'invalid_grant');
  assert.equal(stolen.body['access_token'], undefined);
  assert.deepEqual(refusals(s), ['refresh token of another client']);
  // Its own client still rotates it: the attempt spent nothing.
  const own = await token(issuer, { grant_type: 'refresh_token', refresh_token: refresh }, authOf(victim));
  assert.equal(own.status, 200, JSON.stringify(own.body));
});
