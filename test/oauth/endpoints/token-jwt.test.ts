/**
 * JWT access tokens (RFC 9068) at the token endpoint, for the grants that redeem something: a
 * code, or a refresh token, sent with a `resource` (RFC 8707) the host lists in
 * oauth2_jwt_resources gets a JWT for that resource, living oauth2_jwt_access_token_ttl; without
 * a resource the access token stays opaque and lives oauth2_access_token_ttl; an unknown
 * resource is invalid_target and spends nothing. The two lifetimes differ here, so each token
 * shows which one it was given.
 *
 * Expiry is reached by moving the clock of this process (node:test's mocked Date; timers stay
 * real), where the server runs: no sleeping, and the boundary itself is tried.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { authorize, basic, introspect, pkce, REDIRECT, register, startOAuth, token, type Registered } from '../../helpers/oauth.js';

const RESOURCE = 'imap://mail.example.org';
const OPAQUE_TTL_S = 600;
const JWT_TTL_S = 60;
const EXTRA = `oauth2_jwt_resources = ["${RESOURCE}"]
oauth2_access_token_ttl = ${OPAQUE_TTL_S}
oauth2_jwt_access_token_ttl = ${JWT_TTL_S}`;

const authOf = (c: Registered) => basic(c.client_id!, c.client_secret!);

async function codeFor(issuer: string, client: Registered, scope = 'xmpp offline_access'): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge, scope });
  const code = back.searchParams.get('code');
  assert.ok(code !== null, `no code in ${back}`);
  return { code, verifier };
}

/** The claims of a JWT access token for RESOURCE, verified as a resource server would. */
async function verified(issuer: string, jwt: string): Promise<Record<string, unknown>> {
  assert.equal(decodeProtectedHeader(jwt).typ, 'at+jwt');
  const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`)), { issuer, audience: RESOURCE, algorithms: ['ES256'], typ: 'at+jwt' });
  return payload as Record<string, unknown>;
}

/** An opaque token: one base64url string, not a JWS. */
function assertOpaque(value: unknown): void {
  assert.equal(typeof value, 'string');
  assert.match(value as string, /^[A-Za-z0-9_-]{20,}$/, `an opaque token, not ${String(value)}`);
}

test('attack: a resource the host does not list is invalid_target, and the code it came with is not spent', async (t) => {
  const s = await startOAuth(t, EXTRA);
  const issuer = s.issuer();
  const client = await register(issuer);
  const { code, verifier } = await codeFor(issuer, client);
  for (const resource of ['imap://elsewhere.example', `${RESOURCE}/`, '']) {
    const res = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, resource }, authOf(client));
    assert.equal(res.status, 400, JSON.stringify([resource, res.body]));
    assert.deepEqual(res.body, { error: 'invalid_target', error_description: 'the resource is not one this server issues tokens for' });
  }
  const own = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, resource: RESOURCE }, authOf(client));
  assert.equal(own.status, 200, JSON.stringify(own.body));
});

test('a code redeemed for a listed resource buys a JWT for it; a refresh for it gets a JWT again, one without it an opaque token', async (t) => {
  const s = await startOAuth(t, EXTRA);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = authOf(client);
  const { code, verifier } = await codeFor(issuer, client);
  const before = Math.floor(Date.now() / 1000);
  const first = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier, resource: RESOURCE }, auth);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body['expires_in'], JWT_TTL_S);
  assert.equal(first.body['scope'], 'xmpp offline_access');
  const claims = await verified(issuer, first.body['access_token'] as string);
  const { iat, exp, jti, ...rest } = claims;
  assert.deepEqual(rest, { iss: issuer, aud: RESOURCE, sub: 'alice@localhost', client_id: client.client_id, scope: 'xmpp offline_access', username: 'alice' });
  assert.ok(typeof iat === 'number' && iat >= before && exp === iat + JWT_TTL_S, JSON.stringify(claims));
  assert.equal(typeof jti, 'string');
  // The refresh token is opaque whatever the access token is.
  assertOpaque(first.body['refresh_token']);

  const again = await token(issuer, { grant_type: 'refresh_token', refresh_token: first.body['refresh_token'] as string, resource: RESOURCE, scope: 'xmpp' }, auth);
  assert.equal(again.status, 200, JSON.stringify(again.body));
  assert.equal(again.body['expires_in'], JWT_TTL_S);
  const renewed = await verified(issuer, again.body['access_token'] as string);
  assert.equal(renewed['scope'], 'xmpp');
  assert.equal(renewed['sub'], 'alice@localhost');
  assert.equal(renewed['client_id'], client.client_id);
  assertOpaque(again.body['refresh_token']);

  const plain = await token(issuer, { grant_type: 'refresh_token', refresh_token: again.body['refresh_token'] as string }, auth);
  assert.equal(plain.status, 200, JSON.stringify(plain.body));
  assertOpaque(plain.body['access_token']);
  assert.equal(plain.body['expires_in'], OPAQUE_TTL_S);
  const seen = await introspect(issuer, plain.body['access_token'] as string, auth);
  assert.equal(seen['active'], true);
  assert.equal(seen['aud'], client.client_id, 'an opaque token is for its client, not for the resource');
});

test('a code redeemed without a resource buys an opaque token of the opaque lifetime', async (t) => {
  const s = await startOAuth(t, EXTRA);
  const issuer = s.issuer();
  const client = await register(issuer);
  const { code, verifier } = await codeFor(issuer, client);
  const res = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(client));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  assertOpaque(res.body['access_token']);
  assert.equal(res.body['expires_in'], OPAQUE_TTL_S);
});

/** Date.now() under the test's control from here on, half-way into a second; timers stay real. */
function controlClock(t: TestContext): number {
  const now = Math.floor(Date.now() / 1000) * 1000 + 500;
  t.mock.timers.enable({ apis: ['Date'], now });
  return now;
}

test("a JWT access token ends at its exp, a whole second; an opaque one issued in the same instant ends its own lifetime later, to the millisecond", async (t) => {
  const s = await startOAuth(t, EXTRA);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = authOf(client);
  const a = await codeFor(issuer, client);
  const b = await codeFor(issuer, client);
  const t0 = controlClock(t);
  const jwtRes = await token(issuer, { grant_type: 'authorization_code', code: a.code, redirect_uri: REDIRECT, code_verifier: a.verifier, resource: RESOURCE }, auth);
  const opaqueRes = await token(issuer, { grant_type: 'authorization_code', code: b.code, redirect_uri: REDIRECT, code_verifier: b.verifier }, auth);
  assert.equal(jwtRes.status, 200, JSON.stringify(jwtRes.body));
  assert.equal(opaqueRes.status, 200, JSON.stringify(opaqueRes.body));
  const jwt = jwtRes.body['access_token'] as string;
  const opaque = opaqueRes.body['access_token'] as string;
  const exp = JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')).exp as number;
  assert.equal(exp * 1000, t0 - 500 + JWT_TTL_S * 1000, 'exp is the whole second of issue plus the JWT lifetime');

  const active = async (value: string) => (await introspect(issuer, value, auth))['active'];
  t.mock.timers.tick(exp * 1000 - 1 - t0);
  assert.equal(await active(jwt), true, 'a millisecond before exp');
  assert.equal((await introspect(issuer, jwt, auth))['exp'], exp);
  t.mock.timers.tick(1);
  assert.equal(await active(jwt), false, 'at exp');
  assert.equal(await active(opaque), true);
  assert.equal((await introspect(issuer, opaque, auth))['exp'], Math.floor((t0 + OPAQUE_TTL_S * 1000) / 1000));
  t.mock.timers.tick(t0 + OPAQUE_TTL_S * 1000 - 1 - Date.now());
  assert.equal(await active(opaque), true, 'a millisecond before its lifetime is over');
  t.mock.timers.tick(1);
  assert.equal(await active(opaque), false, 'its lifetime to the millisecond');
});
