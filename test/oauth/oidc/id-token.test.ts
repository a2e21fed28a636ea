/**
 * The id_token, verified the way a relying party would: with jose, against the JWK Set
 * fetched over HTTP from the issuer, never with Gatehouse's own code. Then key rotation
 * across two instances of a fleet, and host separation.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createLocalJWKSet, createRemoteJWKSet, decodeProtectedHeader, errors, jwtVerify, type JSONWebKeySet } from 'jose';
import { TestBrowser } from '../../helpers/browser.js';
import { register, startOAuth } from '../../helpers/oauth.js';
import { codeFlow, K1, K2, startKeyed } from '../../helpers/oidc-server.js';

async function fetchJwks(base: string): Promise<JSONWebKeySet> {
  const res = await fetch(`${base}/oauth2/jwks`);
  assert.equal(res.status, 200);
  return (await res.json()) as JSONWebKeySet;
}

test('an openid code exchange returns an id_token that jose verifies against the JWKS over HTTP, with exactly the expected claims', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const before = Math.floor(Date.now() / 1000);
  const tokens = await codeFlow(issuer, client, { nonce: 'n-0S6_WzA2Mj' });
  const after = Math.floor(Date.now() / 1000);
  const idToken = tokens['id_token'];
  assert.equal(typeof idToken, 'string');

  const jwksRes = await fetch(`${issuer}/oauth2/jwks`);
  assert.match(jwksRes.headers.get('content-type')!, /^application\/json/);
  assert.equal(jwksRes.headers.get('cache-control'), 'public, max-age=300');
  const jwks = (await jwksRes.json()) as JSONWebKeySet;
  assert.equal(jwks.keys.length, 1);
  assert.equal(decodeProtectedHeader(idToken as string).kid, jwks.keys[0]!.kid);

  const { payload, protectedHeader } = await jwtVerify(idToken as string, createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`)), {
    issuer,
    audience: client.client_id!,
    algorithms: ['ES256'],
  });
  assert.deepEqual(protectedHeader, { alg: 'ES256', kid: jwks.keys[0]!.kid });
  assert.deepEqual(Object.keys(payload).sort(), ['amr', 'aud', 'auth_time', 'exp', 'iat', 'iss', 'nonce', 'sub']);
  assert.equal(payload.iss, issuer);
  assert.equal(payload.sub, 'alice@localhost');
  assert.equal(payload.aud, client.client_id, 'aud is the client_id itself, not an array');
  assert.equal(payload['nonce'], 'n-0S6_WzA2Mj');
  assert.deepEqual(payload['amr'], ['pwd']);
  assert.ok(payload.iat! >= before && payload.iat! <= after, 'iat is now');
  assert.equal(payload.exp! - payload.iat!, 3600, 'lives as long as the access token');
  const authTime = payload['auth_time'] as number;
  assert.ok(Number.isInteger(authTime) && authTime >= before && authTime <= payload.iat!, 'auth_time in seconds, at the login');

  // Any change breaks the signature.
  const [h, p, sig] = (idToken as string).split('.');
  const forged = Buffer.from(JSON.stringify({ ...payload, sub: 'mallory@localhost' })).toString('base64url');
  await assert.rejects(jwtVerify(`${h}.${forged}.${sig}`, createLocalJWKSet(jwks)), errors.JWSSignatureVerificationFailed);
  // Control: the same parts unchanged verify with the same keys, so the refusal is the forgery's.
  assert.equal((await jwtVerify(`${h}.${p}.${sig}`, createLocalJWKSet(jwks))).payload.sub, 'alice@localhost');
  // (Gatehouse itself refusing a forged id_token as a logout hint: end-session.test.ts.)
  assert.ok(!s.log.text().includes(idToken as string), 'the id_token is not logged');
});

test('no nonce asked, none given; no openid scope, no id_token', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const withoutNonce = await codeFlow(issuer, client);
  const { payload } = await jwtVerify(withoutNonce['id_token'] as string, createLocalJWKSet(await fetchJwks(issuer)), { issuer, audience: client.client_id! });
  assert.ok(!('nonce' in payload));

  const plain = await codeFlow(issuer, client, { scope: 'xmpp offline_access', nonce: 'ignored' });
  assert.ok(plain['access_token']);
  assert.ok(!('id_token' in plain));
});

test('auth_time is when the user typed the password, not when a later authorization reused the session', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const jwks = createLocalJWKSet(await fetchJwks(issuer));
  const browser = new TestBrowser();
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() }); // this process's clock, where the server runs
  const first = await jwtVerify((await codeFlow(issuer, client, { browser }))['id_token'] as string, jwks);
  t.mock.timers.tick(5000);
  const second = await jwtVerify((await codeFlow(issuer, client, { browser }))['id_token'] as string, jwks);
  assert.equal(second.payload['auth_time'], first.payload['auth_time']);
  assert.equal(second.payload.iat!, (first.payload['auth_time'] as number) + 5);
});

test('key rotation: an instance signing with k2 still publishes k1, so id_tokens from an instance on [k1] verify everywhere', async (t) => {
  const a = await startKeyed(t, [K1]);
  // A second instance of the same fleet, its config already rotated: k2 first, k1 kept.
  const b = await startKeyed(t, [K2, K1], a.issuer);
  // A third instance with A's config: the same keys, nothing shared but the config.
  const a2 = await startKeyed(t, [K1], a.issuer);

  const jwksA = await fetchJwks(a.base);
  const jwksB = await fetchJwks(b.base);
  assert.deepEqual(await fetchJwks(a2.base), jwksA, 'same config, same JWKS: the keys are derived, not drawn');
  assert.equal(jwksB.keys.length, 2);
  assert.deepEqual(jwksB.keys[1], jwksA.keys[0], 'B still publishes the k1 key');
  assert.notEqual(jwksB.keys[0]!.kid, jwksA.keys[0]!.kid);

  // A client registered under k1 is valid on both instances.
  const client = await register(a.base);
  const fromA = (await codeFlow(a.base, client))['id_token'] as string;
  const fromB = (await codeFlow(b.base, client, { nonce: 'nb' }))['id_token'] as string;

  const opts = { issuer: a.issuer, audience: client.client_id!, algorithms: ['ES256'] };
  await jwtVerify(fromA, createRemoteJWKSet(new URL(`${b.base}/oauth2/jwks`)), opts);
  await jwtVerify(fromA, createRemoteJWKSet(new URL(`${a2.base}/oauth2/jwks`)), opts);
  const verifiedB = await jwtVerify(fromB, createRemoteJWKSet(new URL(`${b.base}/oauth2/jwks`)), opts);
  assert.equal(verifiedB.protectedHeader.kid, jwksB.keys[0]!.kid, 'B signs with the key derived from k2');
  assert.equal(verifiedB.payload['nonce'], 'nb');
  assert.equal(decodeProtectedHeader(fromA).kid, jwksA.keys[0]!.kid);
  // An instance that never heard of k2 cannot verify B's tokens: the reason to publish first.
  await assert.rejects(jwtVerify(fromB, createLocalJWKSet(jwksA), opts), errors.JWKSNoMatchingKey);
});

test("one host's id_tokens do not verify with another host's keys, even with one registration key", async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const idToken = (await codeFlow(issuer, client))['id_token'] as string;
  const other = await fetchJwks(s.issuer('other.example'));
  assert.notEqual(other.keys[0]!.kid, (await fetchJwks(issuer)).keys[0]!.kid);
  await assert.rejects(jwtVerify(idToken, createLocalJWKSet(other)), errors.JWKSNoMatchingKey);
  // Even under the other host's kid, the signature would not match its key.
  const [, p, sig] = idToken.split('.');
  const relabelled = `${Buffer.from(JSON.stringify({ alg: 'ES256', kid: other.keys[0]!.kid })).toString('base64url')}.${p}.${sig}`;
  await assert.rejects(jwtVerify(relabelled, createLocalJWKSet(other)), errors.JWSSignatureVerificationFailed);
});
