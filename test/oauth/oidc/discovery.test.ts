/**
 * OpenID Connect Discovery (§4: {issuer}/.well-known/openid-configuration), then an
 * independent relying party: openid-client with its default (OpenID Connect) discovery runs
 * the code flow with openid and a nonce, and verifies the id_token itself against the JWKS.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as client from 'openid-client';
import { TestBrowser } from '../../helpers/browser.js';
import { REDIRECT, register, startOAuth } from '../../helpers/oauth.js';
import { signInAndAllow } from '../../helpers/oidc-server.js';

const json = async (url: string): Promise<Record<string, unknown>> => {
  const res = await fetch(url);
  assert.equal(res.status, 200, url);
  assert.match(res.headers.get('content-type')!, /^application\/json/);
  return (await res.json()) as Record<string, unknown>;
};

test('openid-configuration: the RFC 8414 document, with the OpenID Connect fields, for each host', async (t) => {
  const s = await startOAuth(t);
  for (const host of ['localhost', 'other.example']) {
    const issuer = s.issuer(host);
    const doc = await json(`${issuer}/.well-known/openid-configuration`);
    assert.deepEqual(doc, await json(`${issuer}/.well-known/oauth-authorization-server`), 'one document');
    assert.equal(doc['issuer'], issuer);
    assert.equal(doc['jwks_uri'], `${issuer}/oauth2/jwks`);
    assert.equal(doc['userinfo_endpoint'], `${issuer}/oauth2/userinfo`);
    assert.equal(doc['authorization_endpoint'], `${issuer}/oauth2/authorize`);
    assert.equal(doc['token_endpoint'], `${issuer}/oauth2/token`);
    assert.equal(doc['registration_endpoint'], `${issuer}/oauth2/register`);
    assert.deepEqual(doc['id_token_signing_alg_values_supported'], ['ES256']);
    assert.deepEqual(doc['subject_types_supported'], ['public']);
    assert.deepEqual(doc['response_types_supported'], ['code']);
    assert.deepEqual(doc['claims_supported'], ['iss', 'sub', 'aud', 'exp', 'iat', 'auth_time', 'nonce', 'amr', 'preferred_username', 'jid']);
    assert.ok((doc['scopes_supported'] as string[]).includes('openid'));
    assert.equal(doc['claims_parameter_supported'], false);
    assert.equal(doc['request_parameter_supported'], false);
    assert.equal(doc['request_uri_parameter_supported'], false);
    assert.deepEqual(doc['code_challenge_methods_supported'], ['S256']);
    // Every key the document names is served.
    const jwks = await json(doc['jwks_uri'] as string);
    assert.equal((jwks['keys'] as unknown[]).length, 1);
  }
});

test('openid-client: OIDC discovery, code flow with openid + nonce + PKCE, id_token verified by the client, UserInfo', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const registered = await register(issuer);
  assert.equal(registered.status, 201);

  // Default algorithm: 'oidc', i.e. {issuer}/.well-known/openid-configuration.
  const config = await client.discovery(new URL(issuer), registered.client_id!, registered.client_secret!, client.ClientSecretBasic(registered.client_secret!), {
    execute: [client.allowInsecureRequests],
  });
  assert.equal(config.serverMetadata().issuer, issuer);
  assert.equal(config.serverMetadata().jwks_uri, `${issuer}/oauth2/jwks`);

  const verifier = client.randomPKCECodeVerifier();
  const state = client.randomState();
  const nonce = client.randomNonce();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid xmpp',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state,
    nonce,
  });
  const callback = await signInAndAllow(url.href, issuer);

  // openid-client fetches the JWKS, checks the ES256 signature, iss, aud, exp, iat and the nonce.
  const before = Math.floor(Date.now() / 1000);
  const tokens = await client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: state, expectedNonce: nonce });
  const claims = tokens.claims();
  assert.ok(claims !== undefined);
  assert.equal(claims.iss, issuer);
  assert.equal(claims.sub, 'alice@localhost');
  assert.equal(claims.aud, registered.client_id);
  assert.equal(claims.nonce, nonce);
  assert.deepEqual(claims['amr'], ['pwd']);
  assert.equal(typeof claims.auth_time, 'number');
  assert.ok(claims.iat >= before - 1 && claims.exp === claims.iat + 3600);

  // fetchUserInfo checks that sub matches the id_token's.
  const info = await client.fetchUserInfo(config, tokens.access_token, claims.sub);
  assert.equal(info['preferred_username'], 'alice');
  assert.equal(info['jid'], 'alice@localhost');
});

test('the id_token carries the nonce of its own authorization request; openid-client refuses another', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const registered = await register(issuer);
  const config = await client.discovery(new URL(issuer), registered.client_id!, registered.client_secret!, client.ClientSecretBasic(registered.client_secret!), {
    execute: [client.allowInsecureRequests],
  });
  const verifier = client.randomPKCECodeVerifier();
  const url = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: 'S256',
    state: 's',
    nonce: 'the-nonce-sent',
  });
  const callback = await signInAndAllow(url.href, issuer, { browser: new TestBrowser() });
  await assert.rejects(
    client.authorizationCodeGrant(config, callback, { pkceCodeVerifier: verifier, expectedState: 's', expectedNonce: 'another-nonce' }),
    (err: Error) => /"nonce" claim/.test((err.cause as Error | undefined)?.message ?? ''),
  );
  // Gatehouse's part: a second authorization, its own nonce, in its own id_token.
  const verifier2 = client.randomPKCECodeVerifier();
  const url2 = client.buildAuthorizationUrl(config, {
    redirect_uri: REDIRECT,
    scope: 'openid',
    code_challenge: await client.calculatePKCECodeChallenge(verifier2),
    code_challenge_method: 'S256',
    state: 's2',
    nonce: 'the-second-nonce',
  });
  const callback2 = await signInAndAllow(url2.href, issuer, { browser: new TestBrowser() });
  const tokens = await client.authorizationCodeGrant(config, callback2, { pkceCodeVerifier: verifier2, expectedState: 's2', expectedNonce: 'the-second-nonce' });
  assert.equal(tokens.claims()?.nonce, 'the-second-nonce');
});
