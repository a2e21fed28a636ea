/**
 * POST /oauth2/introspect (RFC 7662) for its two callers: a client, about its own tokens only;
 * a resource server of oauth2_introspection_credentials, about every token of its host (and,
 * when its entry names a scope, only tokens with that scope are active). And JWT access
 * tokens (RFC 9068): issued for a configured resource only, verified with jose, introspected
 * and revoked like opaque ones.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from 'jose';
import { parseConfigText } from '../../../src/config/load.js';
import { basic, register, startOAuth, token } from '../../helpers/oauth.js';

const SECRET = 'resource-server-secret-0123456789';
const OTHER_SECRET = 'another-resource-secret-98765432';
const RESOURCE = 'imap://mail.example.org';
const EXTRA = `oauth2_password_grant = true
oauth2_introspection_credentials = ["dovecot:${SECRET}:imap", "anyscope:${OTHER_SECRET}"]
oauth2_jwt_resources = ["${RESOURCE}"]`;
const legacy = { grant_types: ['password'], redirect_uris: undefined, scope: 'imap smtp xmpp openid' };

async function ask(issuer: string, form: Record<string, string>, auth?: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${issuer}/oauth2/introspect`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(auth !== undefined ? { authorization: auth } : {}) },
    body: new URLSearchParams(form).toString(),
  });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

async function setup(t: import('node:test').TestContext) {
  const s = await startOAuth(t, EXTRA);
  const issuer = s.issuer();
  const mail = await register(issuer, { ...legacy, client_name: 'Mail App' });
  const other = await register(issuer, { ...legacy, client_name: 'Other App' });
  const mailAuth = basic(mail.client_id!, mail.client_secret!);
  const otherAuth = basic(other.client_id!, other.client_secret!);
  const get = async (scope: string, user = 'alice', extra: Record<string, string> = {}, auth = mailAuth) => {
    const r = await token(issuer, { grant_type: 'password', username: user, password: 'secret', scope, ...extra }, auth);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  return { s, issuer, mail, mailAuth, otherAuth, get };
}

test("a client sees its own tokens only; a resource server sees every token of its host, with the token's client", async (t) => {
  const { s, issuer, mail, mailAuth, otherAuth, get } = await setup(t);
  const access = (await get('imap smtp'))['access_token'] as string;
  const own = await ask(issuer, { token: access }, mailAuth);
  assert.equal(own.body['active'], true);
  assert.equal((await ask(issuer, { token: access }, otherAuth)).body['active'], false);

  const before = Math.floor(Date.now() / 1000);
  const rs = await ask(issuer, { token: access }, basic('dovecot', SECRET));
  assert.equal(rs.status, 200);
  const { exp, iat, ...rest } = rs.body;
  assert.deepEqual(rest, {
    active: true,
    scope: 'imap smtp',
    client_id: mail.client_id,
    username: 'alice',
    sub: 'alice@localhost',
    token_type: 'Bearer',
    iss: issuer,
    aud: mail.client_id,
  });
  assert.ok(typeof iat === 'number' && iat >= before - 1 && typeof exp === 'number' && exp > iat);
  assert.deepEqual(own.body, rs.body);

  // client_secret_post with the name as client_id works too; so does Basic beside the empty
  // client_id and client_secret Dovecot 2.3 adds to the body (RFC 6749 §3.1).
  assert.equal((await ask(issuer, { token: access, client_id: 'dovecot', client_secret: SECRET })).body['active'], true);
  assert.equal((await ask(issuer, { token: access, client_id: '', client_secret: '' }, basic('dovecot', SECRET))).body['active'], true);
  // Text after the base64 padding is not ignored (Node's decoder stops at the first "="):
  // the resource server's credentials with junk appended are no credentials at all.
  const junk = await ask(issuer, { token: access }, `${basic('dovecot', SECRET)}=junk`);
  assert.equal(junk.status, 401, JSON.stringify(junk.body));
  assert.equal(junk.body['active'], undefined);

  // A token of another host is not this host's resource server's business.
  const elsewhere = await register(s.issuer('other.example'), legacy);
  const foreign = await token(s.issuer('other.example'), { grant_type: 'password', username: 'alice', password: 'secret', scope: 'imap' }, basic(elsewhere.client_id!, elsewhere.client_secret!));
  assert.equal(foreign.status, 200);
  assert.equal((await ask(s.issuer('other.example'), { token: foreign.body['access_token'] as string }, basic('dovecot', SECRET))).body['active'], true);
  assert.equal((await ask(issuer, { token: foreign.body['access_token'] as string }, basic('dovecot', SECRET))).body['active'], false);
});

test('a refresh token is never active to a resource server (RFC 6749 §1.5), though its client sees it', async (t) => {
  const s = await startOAuth(t, EXTRA);
  const issuer = s.issuer();
  const app = await register(issuer, { grant_types: ['password', 'refresh_token'], redirect_uris: undefined, scope: 'imap offline_access', client_name: 'Mail App' });
  const auth = basic(app.client_id!, app.client_secret!);
  const r = await token(issuer, { grant_type: 'password', username: 'alice', password: 'secret', scope: 'imap offline_access' }, auth);
  assert.equal(r.status, 200, JSON.stringify(r.body));
  const refresh = r.body['refresh_token'] as string;
  assert.ok(refresh, 'a refresh token was issued');
  // Positive controls: the refresh token is live, and the access token is active to Dovecot.
  assert.equal((await ask(issuer, { token: refresh }, auth)).body['active'], true);
  assert.equal((await ask(issuer, { token: r.body['access_token'] as string }, basic('dovecot', SECRET))).body['active'], true);
  for (const rs of [basic('dovecot', SECRET), basic('anyscope', OTHER_SECRET)]) {
    assert.deepEqual((await ask(issuer, { token: refresh }, rs)).body, { active: false });
  }
});

test("a resource server's required scope: a token without it is inactive for that server only", async (t) => {
  const { issuer, get } = await setup(t);
  const xmpp = (await get('xmpp'))['access_token'] as string;
  const imap = (await get('imap'))['access_token'] as string;
  assert.equal((await ask(issuer, { token: imap }, basic('dovecot', SECRET))).body['active'], true);
  assert.deepEqual((await ask(issuer, { token: xmpp }, basic('dovecot', SECRET))).body, { active: false });
  assert.equal((await ask(issuer, { token: xmpp }, basic('anyscope', OTHER_SECRET))).body['active'], true);
});

test('a resource server with a wrong or missing secret is invalid_client (401); revoked and unknown tokens are inactive', async (t) => {
  const { issuer, mailAuth, get } = await setup(t);
  const access = (await get('imap'))['access_token'] as string;
  for (const [form, auth] of [
    [{ token: access }, basic('dovecot', 'wrong-secret-0123456789')],
    [{ token: access }, basic('dovecot', OTHER_SECRET)],
    [{ token: access, client_id: 'dovecot' }, undefined],
    [{ token: access, client_id: 'dovecot', client_secret: 'x' }, undefined],
    [{ token: access, client_secret: SECRET }, basic('dovecot', SECRET)],
  ] as const) {
    const r = await ask(issuer, form, auth);
    assert.equal(r.status, 401, JSON.stringify([form, r.body]));
    assert.equal(r.body['error'], 'invalid_client');
  }
  assert.equal((await ask(issuer, { token: 'no-such-token' }, basic('dovecot', SECRET))).body['active'], false);
  const revoked = await fetch(`${issuer}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: mailAuth },
    body: new URLSearchParams({ token: access }).toString(),
  });
  assert.equal(revoked.status, 200);
  assert.deepEqual((await ask(issuer, { token: access }, basic('dovecot', SECRET))).body, { active: false });
});

test('JWT access tokens (RFC 9068): only for a configured resource; jose verifies them; introspection answers their aud; revocation ends them', async (t) => {
  const { issuer, mail, mailAuth, get } = await setup(t);
  const unknown = await token(issuer, { grant_type: 'password', username: 'alice', password: 'secret', scope: 'imap', resource: 'imap://elsewhere.example' }, mailAuth);
  assert.equal(unknown.status, 400);
  assert.equal(unknown.body['error'], 'invalid_target');
  // Without a resource, the token stays opaque (positive control of the default).
  assert.equal(((await get('imap'))['access_token'] as string).includes('.'), false);

  const before = Math.floor(Date.now() / 1000);
  const body = await get('imap openid', 'alice', { resource: RESOURCE });
  const jwt = body['access_token'] as string;
  assert.equal(body['expires_in'], 300);
  const header = decodeProtectedHeader(jwt);
  assert.equal(header.typ, 'at+jwt');
  const { payload } = await jwtVerify(jwt, createRemoteJWKSet(new URL(`${issuer}/oauth2/jwks`)), {
    issuer,
    audience: RESOURCE,
    algorithms: ['ES256'],
    typ: 'at+jwt',
  });
  const { iat, exp, jti, ...claims } = payload;
  assert.deepEqual(claims, { iss: issuer, aud: RESOURCE, sub: 'alice@localhost', client_id: mail.client_id, scope: 'imap openid', username: 'alice' });
  assert.ok(typeof iat === 'number' && iat >= before && exp === iat + 300);
  assert.match(String(jti), /^[A-Za-z0-9_-]{22}$/);

  const rs = await ask(issuer, { token: jwt }, basic('dovecot', SECRET));
  assert.equal(rs.body['active'], true);
  assert.equal(rs.body['aud'], RESOURCE);
  assert.equal(rs.body['exp'], exp);
  // The JWT is a bearer token at userinfo too.
  const info = await fetch(`${issuer}/oauth2/userinfo`, { headers: { authorization: `Bearer ${jwt}` } });
  assert.equal(info.status, 200);

  const revoked = await fetch(`${issuer}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: mailAuth },
    body: new URLSearchParams({ token: jwt }).toString(),
  });
  assert.equal(revoked.status, 200);
  assert.deepEqual((await ask(issuer, { token: jwt }, basic('dovecot', SECRET))).body, { active: false });
  assert.equal((await fetch(`${issuer}/oauth2/userinfo`, { headers: { authorization: `Bearer ${jwt}` } })).status, 401);
});

test('config: introspection credentials and JWT resources are checked, and a secret is never echoed', () => {
  const ok = parseConfigText(`oauth2_introspection_credentials = ["dovecot:${SECRET}:imap", "rs-2:${OTHER_SECRET}:xmpp:client:normal"]\noauth2_jwt_resources = ["imap://127.0.0.1"]`);
  assert.deepEqual(ok.defaults.oauth2.introspectionCredentials, [
    { name: 'dovecot', secret: SECRET, scope: 'imap' },
    { name: 'rs-2', secret: OTHER_SECRET, scope: 'xmpp:client:normal' },
  ]);
  assert.deepEqual(ok.defaults.oauth2.jwtResources, ['imap://127.0.0.1']);
  assert.equal(ok.defaults.oauth2.jwtAccessTokenTtlS, 300);
  assert.equal(ok.defaults.oauth2.jwtTyp, 'at+jwt');
  for (const [text, problem] of [
    ['oauth2_introspection_credentials = ["dovecot:short"]', /oauth2_introspection_credentials\[0\]: expected "name:secret"/],
    ['oauth2_introspection_credentials = ["do.vecot:0123456789abcdefgh"]', /expected "name:secret"/],
    [`oauth2_introspection_credentials = ["a:${SECRET}", "a:${OTHER_SECRET}"]`, /the name "a" appears twice/],
    ['oauth2_jwt_resources = ["imap://x#frag"]', /absolute URIs without a fragment/],
    ['oauth2_jwt_resources = ["relative/path"]', /absolute URIs without a fragment/],
    ['oauth2_jwt_access_token_ttl = 5', /oauth2_jwt_access_token_ttl: expected an integer from 30/],
    ['oauth2_jwt_typ = "jwt"', /oauth2_jwt_typ: expected one of "at\+jwt", "JWT"/],
  ] as const) {
    assert.throws(
      () => parseConfigText(text),
      (err: Error) => problem.test(err.message) && !err.message.includes('0123456789abcdefgh') && !err.message.includes(SECRET),
      text,
    );
  }
});
