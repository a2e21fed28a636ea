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
import { REDIRECT, startOAuth } from '../../helpers/oauth.js';

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

test('openid-client: a wrong state or a response from another issuer is rejected by the client', async (t) => {
  const s = await startOAuth(t);
  const issuer = new URL(s.issuer());
  const options = { execute: [client.allowInsecureRequests], algorithm: 'oauth2' as const };
  const config = await client.dynamicClientRegistration(
    issuer,
    { client_name: 'x', client_uri: 'https://app.example.net/', redirect_uris: [REDIRECT], scope: 'xmpp' },
    undefined,
    options,
  );
  // A forged callback claiming another issuer: the client refuses it before any token request.
  const forged = new URL(`${REDIRECT}?code=abc&state=s&iss=${encodeURIComponent('https://evil.example')}`);
  await assert.rejects(client.authorizationCodeGrant(config, forged, { pkceCodeVerifier: client.randomPKCECodeVerifier(), expectedState: 's' }));
});
