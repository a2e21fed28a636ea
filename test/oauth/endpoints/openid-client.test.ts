/**
 * An independent, certified client drives the whole flow: openid-client (by the author of
 * jose) does discovery (RFC 8414), dynamic registration, authorization code with PKCE, refresh,
 * introspection and revocation against Gatehouse. Only the user's part in the browser (login,
 * consent) is done by the test's own form-filling browser.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as client from 'openid-client';
import { TestBrowser, field } from '../../helpers/browser.js';
import { REDIRECT, signInAndAllow, startOAuth } from '../../helpers/oauth.js';

test('openid-client: discovery, registration, code + PKCE, refresh, introspection, revocation', async (t) => {
  const s = await startOAuth(t);
  const issuer = new URL(s.issuer());
  const options = { execute: [client.allowInsecureRequests], algorithm: 'oauth2' as const };

  const config = await client.dynamicClientRegistration(
    issuer,
    {
      client_name: 'openid-client test',
      client_uri: 'https://app.example.net/',
      redirect_uris: [REDIRECT],
      grant_types: ['authorization_code', 'refresh_token'],
      scope: 'xmpp offline_access',
    },
    undefined,
    options,
  );
  assert.equal(config.serverMetadata().issuer, issuer.href.replace(/\/$/, ''));
  const clientId = config.clientMetadata().client_id;

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'xmpp offline_access',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
  });

  // The user's part: log in and consent in a browser.
  const b = new TestBrowser();
  const login = await (await b.get(url.href)).text();
  const afterLogin = await b.post(`${issuer.href}/oauth2/authorize/login`, { request: field(login, 'request'), csrf: field(login, 'csrf'), username: 'alice', password: 'secret' });
  assert.equal(afterLogin.status, 303);
  const consent = await (await b.get(new URL(afterLogin.headers.get('location')!, issuer).href)).text();
  const done = await b.post(`${issuer.href}/oauth2/authorize/consent`, { request: field(consent, 'request'), csrf: field(consent, 'csrf'), decision: 'allow' });
  const callback = new URL(done.headers.get('location')!);

  // openid-client checks state and iss (RFC 9207) itself.
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state });
  assert.equal(tokens.token_type.toLowerCase(), 'bearer');
  assert.ok(tokens.access_token && tokens.refresh_token);
  assert.equal(tokens.scope, 'xmpp offline_access');

  const info = await client.tokenIntrospection(config, tokens.access_token);
  assert.equal(info.active, true);
  assert.equal(info.client_id, clientId);
  assert.equal(info['username'], 'alice');

  const refreshed = await client.refreshTokenGrant(config, tokens.refresh_token!);
  assert.ok(refreshed.access_token !== tokens.access_token);
  assert.equal((await client.tokenIntrospection(config, tokens.refresh_token!)).active, false);

  await client.tokenRevocation(config, refreshed.refresh_token!);
  assert.equal((await client.tokenIntrospection(config, refreshed.access_token)).active, false, 'revoking the refresh token revokes its grant');
  await assert.rejects(client.refreshTokenGrant(config, refreshed.refresh_token!), (err: Error & { error?: string }) => err.error === 'invalid_grant');
});

test('openid-client: a callback with a wrong state, or claiming another issuer, is rejected before any token request; the real one is redeemed', async (t) => {
  const s = await startOAuth(t);
  const issuer = new URL(s.issuer());
  const options = { execute: [client.allowInsecureRequests], algorithm: 'oauth2' as const };
  const config = await client.dynamicClientRegistration(
    issuer,
    { client_name: 'x', client_uri: 'https://app.example.net/', redirect_uris: [REDIRECT], scope: 'xmpp' },
    undefined,
    options,
  );
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'xmpp',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 'the-state-sent',
  });
  const callback = await signInAndAllow(url.href, issuer.href);
  assert.equal(callback.searchParams.get('state'), 'the-state-sent');
  // The callback Gatehouse sent, checked against another state (a login CSRF'd into this session).
  await assert.rejects(
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'another-state' }),
    (err: Error) => /"state"/.test((err.cause as Error | undefined)?.message ?? ''),
  );
  // The same code, in a callback claiming another issuer (mix-up, RFC 9207).
  const mixed = new URL(callback);
  mixed.searchParams.set('iss', 'https://evil.example');
  await assert.rejects(
    client.authorizationCodeGrant(config, mixed, { pkceCodeVerifier: verifier, expectedState: 'the-state-sent' }),
    (err: Error) => /"iss"/.test((err.cause as Error | undefined)?.message ?? ''),
  );
  // Neither reached the token endpoint: the real callback still redeems the code.
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 'the-state-sent' });
  assert.equal(tokens.scope, 'xmpp');
});
