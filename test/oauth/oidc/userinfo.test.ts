/**
 * {issuer}/oauth2/userinfo (OpenID Connect Core §5.3) with real tokens from real flows:
 * the ways a token may be presented (RFC 6750 §2), and every way one must be refused, each
 * with its RFC 6750 §3 status and WWW-Authenticate challenge.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeJwt } from 'jose';
import { hashSecret } from '../../../src/oauth/tokens/secrets.js';
import { basic, register, startOAuth, token } from '../../helpers/oauth.js';
import { codeFlow, K1, startKeyed } from '../../helpers/oidc-server.js';

interface Answer {
  status: number;
  challenge: string | null;
  body: Record<string, unknown> | null;
  headers: Headers;
}

async function userinfo(base: string, init: { method?: 'GET' | 'POST'; auth?: string; form?: Record<string, string>; query?: string } = {}): Promise<Answer> {
  const headers: Record<string, string> = {};
  if (init.auth !== undefined) headers['authorization'] = init.auth;
  if (init.form !== undefined) headers['content-type'] = 'application/x-www-form-urlencoded';
  const res = await fetch(`${base}/oauth2/userinfo${init.query ?? ''}`, {
    method: init.method ?? 'GET',
    headers,
    ...(init.form !== undefined ? { body: new URLSearchParams(init.form).toString() } : {}),
  });
  const text = await res.text();
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body: text === '' ? null : (JSON.parse(text) as Record<string, unknown>), headers: res.headers };
}

const bearer = (t: unknown) => `Bearer ${t as string}`;

test('a token with the openid scope gets sub, preferred_username and jid, by GET or POST, header or form body', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const tokens = await codeFlow(issuer, client);
  const access = tokens['access_token'] as string;
  const expected = { sub: 'alice@localhost', preferred_username: 'alice', jid: 'alice@localhost' };

  const got = await userinfo(issuer, { auth: bearer(access) });
  assert.equal(got.status, 200);
  assert.deepEqual(got.body, expected);
  assert.match(got.headers.get('content-type')!, /^application\/json/);
  assert.equal(got.headers.get('cache-control'), 'no-store');
  assert.equal(got.body!['sub'], decodeJwt(tokens['id_token'] as string).sub, 'Core §5.3.2: the same sub as the id_token');

  assert.deepEqual((await userinfo(issuer, { method: 'POST', auth: bearer(access) })).body, expected);
  assert.deepEqual((await userinfo(issuer, { method: 'POST', form: { access_token: access } })).body, expected);
  assert.deepEqual((await userinfo(issuer, { auth: `bearer ${access}` })).body, expected, 'the scheme is case-insensitive');
  assert.ok(!s.log.text().includes(access), 'no token in the log');
});

test('no credentials: 401 with a bare Bearer challenge (RFC 6750 §3.1), also for another scheme', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  for (const init of [{}, { method: 'POST' as const }, { auth: 'Basic YWxpY2U6c2VjcmV0' }]) {
    const got = await userinfo(issuer, init);
    assert.equal(got.status, 401);
    assert.equal(got.challenge, `Bearer realm="${issuer}"`);
    assert.equal(got.body, null);
  }
});

test('malformed requests: token in the query, two methods at once, broken Bearer credentials: 400 invalid_request', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const access = (await codeFlow(issuer, client))['access_token'] as string;
  const cases = [
    { query: `?access_token=${access}` },
    { query: `?access_token=${access}`, auth: bearer(access) },
    { method: 'POST' as const, auth: bearer(access), form: { access_token: access } },
    { auth: 'Bearer two words' },
    { auth: 'Bearer' },
    { method: 'POST' as const, form: { access_token: '' } },
  ];
  for (const init of cases) {
    const got = await userinfo(issuer, init);
    assert.equal(got.status, 400, JSON.stringify(init));
    assert.equal(got.body!['error'], 'invalid_request');
    assert.match(got.challenge!, new RegExp(`^Bearer realm="${issuer}", error="invalid_request", error_description="[^"]+"$`));
  }
});

test('unknown, expired, refresh and revoked tokens: 401 invalid_token', async (t) => {
  const s = await startKeyed(t, [K1]);
  const client = await register(s.base);
  const auth = basic(client.client_id!, client.client_secret!);
  const tokens = await codeFlow(s.base, client);
  const access = tokens['access_token'] as string;
  const invalid = async (presented: string, why: string) => {
    const got = await userinfo(s.base, { auth: bearer(presented) });
    assert.equal(got.status, 401, why);
    assert.equal(got.body!['error'], 'invalid_token', why);
    assert.equal(got.challenge, `Bearer realm="${s.issuer}", error="invalid_token", error_description="the access token is invalid, expired or revoked"`, why);
  };
  assert.equal((await userinfo(s.base, { auth: bearer(access) })).status, 200);

  await invalid('bm90LWEtdG9rZW4', 'unknown');
  await invalid(tokens['refresh_token'] as string, 'a refresh token is not an access token');

  // An access token of the same grant that expired an hour ago, stored as the token endpoint
  // would have stored it then.
  const live = (await s.store.findToken(hashSecret(access)))!.token;
  const expired = 'expired-access-token-0123456789abcdefghijk';
  await s.store.saveToken({ ...live, hash: hashSecret(expired), createdAt: Date.now() - 7_200_000, expiresAt: Date.now() - 3_600_000 });
  await invalid(expired, 'expired');

  // Revoking the access token (RFC 7009).
  const revoke = (value: string) =>
    fetch(`${s.base}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: new URLSearchParams({ token: value }).toString() });
  assert.equal((await revoke(access)).status, 200);
  await invalid(access, 'revoked access token');

  // Revoking the refresh token revokes the grant, and so every access token of it.
  const again = await token(s.base, { grant_type: 'refresh_token', refresh_token: tokens['refresh_token'] as string }, auth);
  assert.equal(again.status, 200);
  const fresh = again.body['access_token'] as string;
  assert.equal((await userinfo(s.base, { auth: bearer(fresh) })).status, 200);
  assert.equal((await revoke(again.body['refresh_token'] as string)).status, 200);
  await invalid(fresh, 'grant revoked');
});

test('a token without the openid scope: 403 insufficient_scope naming the scope, also when a refresh narrowed it away', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const insufficient = async (presented: string, why: string) => {
    const got = await userinfo(issuer, { auth: bearer(presented) });
    assert.equal(got.status, 403, why);
    assert.equal(got.body!['error'], 'insufficient_scope', why);
    assert.equal(got.challenge, `Bearer realm="${issuer}", error="insufficient_scope", error_description="the access token lacks the openid scope", scope="openid"`, why);
  };
  const plain = await codeFlow(issuer, client, { scope: 'xmpp offline_access' });
  await insufficient(plain['access_token'] as string, 'scope xmpp offline_access');

  const full = await codeFlow(issuer, client);
  const narrowed = await token(issuer, { grant_type: 'refresh_token', refresh_token: full['refresh_token'] as string, scope: 'xmpp offline_access' }, basic(client.client_id!, client.client_secret!));
  assert.equal(narrowed.status, 200);
  await insufficient(narrowed.body['access_token'] as string, 'narrowed by refresh');
});

test("another host's token is refused here, and answered there with that host's JID", async (t) => {
  const s = await startOAuth(t);
  const here = s.issuer();
  const there = s.issuer('other.example');
  const client = await register(there);
  const access = (await codeFlow(there, client, { user: 'bob' }))['access_token'] as string;
  const refused = await userinfo(here, { auth: bearer(access) });
  assert.equal(refused.status, 401);
  assert.equal(refused.body!['error'], 'invalid_token');
  const answered = await userinfo(there, { auth: bearer(access) });
  assert.equal(answered.status, 200);
  assert.deepEqual(answered.body, { sub: 'bob@other.example', preferred_username: 'bob', jid: 'bob@other.example' });
});
