/**
 * Token requests that must be refused before anything is issued, each tried against a running
 * server beside the request that succeeds: a missing or unknown grant_type, a grant the client
 * did not register, a missing code or refresh token, an unknown code, an access token presented
 * as a refresh token, a refresh token where none was asked for (no offline_access), a refresh scope that is empty or malformed, and a token endpoint flooded
 * past its rate limit.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorize, basic, pkce, REDIRECT, register, startOAuth, token, type Registered } from '../../helpers/oauth.js';

const authOf = (c: Registered) => basic(c.client_id!, c.client_secret!);

async function tokensFor(issuer: string, client: Registered): Promise<Record<string, unknown>> {
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge });
  const res = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(client));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body;
}

test('a missing grant_type is invalid_request; an unknown one, or an inherited property name, is unsupported_grant_type', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const missing = await token(issuer, { code: 'x' }, authOf(client));
  assert.equal(missing.status, 400);
  assert.equal(missing.body['error'], 'invalid_request');
  assert.match(missing.body['error_description'] as string, /grant_type/);
  for (const grant_type of ['implicit', 'client_credentials', '__proto__', 'constructor', 'toString']) {
    const res = await token(issuer, { grant_type }, authOf(client));
    assert.equal(res.status, 400, grant_type);
    assert.equal(res.body['error'], 'unsupported_grant_type', grant_type);
  }
});

test('attack: a grant the client did not register is unauthorized_client, even with a valid code or refresh token', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const full = await register(issuer);
  const codeOnly = await register(issuer, { grant_types: ['authorization_code'], scope: 'xmpp offline_access' });
  assert.equal(codeOnly.status, 201, JSON.stringify(codeOnly));
  const refresh = (await tokensFor(issuer, full))['refresh_token'] as string;
  const res = await token(issuer, { grant_type: 'refresh_token', refresh_token: refresh }, authOf(codeOnly));
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body['error'], 'unauthorized_client');
  // A code-only client gets no refresh token in the first place.
  assert.equal((await tokensFor(issuer, codeOnly))['refresh_token'], undefined);

  const deviceOnly = await register(issuer, { grant_types: ['urn:ietf:params:oauth:grant-type:device_code'], response_types: [], redirect_uris: [] });
  assert.equal(deviceOnly.status, 201, JSON.stringify(deviceOnly));
  const { verifier, challenge } = pkce();
  const code = (await authorize(issuer, full.client_id!, { challenge })).searchParams.get('code')!;
  const byDevice = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(deviceOnly));
  assert.equal(byDevice.body['error'], 'unauthorized_client');
  // The refused request spent nothing: the code's own client redeems it.
  assert.equal((await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(full))).status, 200);
});

test('a refresh token comes only with offline_access: a client of the refresh_token grant that did not ask for it gets none', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const tokensWith = async (scope: string) => {
    const { verifier, challenge } = pkce();
    const back = await authorize(issuer, client.client_id!, { challenge, scope });
    const res = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(client));
    assert.equal(res.status, 200, JSON.stringify(res.body));
    return res.body;
  };
  const without = await tokensWith('xmpp openid');
  assert.equal(without['scope'], 'xmpp openid');
  assert.equal(without['refresh_token'], undefined);
  assert.deepEqual(Object.keys(without).sort(), ['access_token', 'expires_in', 'id_token', 'scope', 'token_type']);
  // The same client, asking for it, gets one (positive control).
  assert.equal(typeof (await tokensWith('xmpp offline_access'))['refresh_token'], 'string');
});

test('a missing code, verifier or refresh token is invalid_request; an unknown code is invalid_grant', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = authOf(client);
  const { verifier } = pkce();
  const noCode = await token(issuer, { grant_type: 'authorization_code', redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(noCode.status, 400);
  assert.equal(noCode.body['error'], 'invalid_request');
  assert.match(noCode.body['error_description'] as string, /code is required/);
  const noRefresh = await token(issuer, { grant_type: 'refresh_token' }, auth);
  assert.equal(noRefresh.status, 400);
  assert.equal(noRefresh.body['error'], 'invalid_request');
  assert.match(noRefresh.body['error_description'] as string, /refresh_token is required/);
  const noVerifier = await token(issuer, { grant_type: 'authorization_code', code: 'x', redirect_uri: REDIRECT }, auth);
  assert.equal(noVerifier.body['error'], 'invalid_request');
  assert.equal(noVerifier.body['error_description'], 'code_verifier is required (PKCE)');
  const unknown = await token(issuer, { grant_type: 'authorization_code', code: 'never-issued', redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body['error'], 'invalid_grant');
  assert.ok(s.log.entries.some((e) => e.msg === 'OAuth request refused' && e.obj['cause'] === 'unknown code'));
});

test('attack: an access token presented as a refresh token is refused, and the grant keeps working', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const tokens = await tokensFor(issuer, client);
  const res = await token(issuer, { grant_type: 'refresh_token', refresh_token: tokens['access_token'] as string }, authOf(client));
  assert.equal(res.status, 400, JSON.stringify(res.body));
  assert.equal(res.body['error'], 'invalid_grant');
  assert.equal(res.body['access_token'], undefined);
  assert.ok(s.log.entries.some((e) => e.msg === 'OAuth request refused' && e.obj['cause'] === 'unknown refresh token'));
  const real = await token(issuer, { grant_type: 'refresh_token', refresh_token: tokens['refresh_token'] as string }, authOf(client));
  assert.equal(real.status, 200, JSON.stringify(real.body));
});

test('a refresh asking for an empty or malformed scope is invalid_scope and spends nothing', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const tokens = await tokensFor(issuer, client);
  const refresh = tokens['refresh_token'] as string;
  for (const scope of ['', ' ', 'xmpp\u0000', 'xmpp "offline_access"']) {
    const res = await token(issuer, { grant_type: 'refresh_token', refresh_token: refresh, scope }, authOf(client));
    assert.equal(res.status, 400, JSON.stringify(scope));
    assert.equal(res.body['error'], 'invalid_scope', JSON.stringify(scope));
    assert.equal(res.body['error_description'], 'a refresh may only narrow the scope');
  }
  assert.equal((await token(issuer, { grant_type: 'refresh_token', refresh_token: refresh, scope: 'xmpp' }, authOf(client))).status, 200);
});

test('attack: the token endpoint is rate-limited per client address; the limit answers 429 before any client check', async (t) => {
  const s = await startOAuth(t, 'oauth2_token_rate_limit = 3');
  const issuer = s.issuer();
  const client = await register(issuer);
  for (let i = 0; i < 3; i++) {
    const res = await token(issuer, { grant_type: 'refresh_token', refresh_token: `guess-${i}` }, authOf(client));
    assert.equal(res.body['error'], 'invalid_grant', `request ${i + 1} is judged`);
  }
  const limited = await token(issuer, { grant_type: 'refresh_token', refresh_token: 'guess-3' }, authOf(client));
  assert.equal(limited.status, 429);
  assert.equal(limited.body['error'], 'temporarily_unavailable');
  assert.equal(limited.body['error_description'], 'too many token requests; try again later');
});
