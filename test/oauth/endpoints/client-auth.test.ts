/**
 * Client authentication at the token endpoint (RFC 6749 §2.3): `client_secret_basic` with
 * form-urlencoded id and secret (§2.3.1), `client_secret_post`, or a public client's client_id
 * alone; never two methods at once, never a secret for a public client, never none for a
 * confidential one; empty values count as absent (§3.1, Dovecot sends them). Each refusal is a
 * 401 invalid_client with a Basic challenge (§5.2), and its real cause is logged. A request
 * whose client is accepted goes on to its grant, and a made-up refresh token then gets
 * invalid_grant: that is the positive control beside every attack.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basic, register, startOAuth, type OAuthServer } from '../../helpers/oauth.js';

interface Reply {
  status: number;
  challenge: string | null;
  body: Record<string, unknown>;
  /** The causes logged for refused requests while this one was answered. */
  causes: unknown[];
}

/** POST /oauth2/token with a refresh_token grant for a token that was never issued. */
async function tokenRequest(s: OAuthServer, form: Record<string, string>, authorization?: string): Promise<Reply> {
  const before = s.log.entries.length;
  const res = await fetch(`${s.issuer()}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(authorization === undefined ? {} : { authorization }) },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: 'never-issued', ...form }).toString(),
  });
  const body = (await res.json()) as Record<string, unknown>;
  const causes = s.log.entries.slice(before).filter((e) => e.msg === 'OAuth request refused').map((e) => e.obj['cause']);
  return { status: res.status, challenge: res.headers.get('www-authenticate'), body, causes };
}

/** The client was accepted: the grant was judged, and found wanting. */
function accepted(r: Reply, what: string): void {
  assert.equal(r.status, 400, `${what}: ${JSON.stringify(r.body)} ${JSON.stringify(r.causes)}`);
  assert.equal(r.body['error'], 'invalid_grant', what);
  assert.deepEqual(r.causes, ['unknown refresh token'], what);
}

/** The client was refused, for `cause`. */
function refused(r: Reply, cause: string, what: string, description = 'client authentication failed'): void {
  assert.equal(r.status, 401, `${what}: ${JSON.stringify(r.body)}`);
  assert.deepEqual(r.body, { error: 'invalid_client', error_description: description }, what);
  assert.equal(r.challenge, 'Basic realm="oauth2"', what);
  assert.deepEqual(r.causes, [cause], what);
}

/** `Basic` with a raw (not form-urlencoded) `user:password`. */
const rawBasic = (userPass: string): string => `Basic ${Buffer.from(userPass).toString('base64')}`;

async function clients(s: OAuthServer) {
  const issuer = s.issuer();
  const conf = await register(issuer);
  const other = await register(issuer, { client_name: 'Other' });
  const pub = await register(issuer, { token_endpoint_auth_method: 'none', application_type: 'native', redirect_uris: ['http://127.0.0.1/cb'] });
  assert.equal(conf.status, 201);
  assert.equal(pub.status, 201);
  return { id: conf.client_id!, secret: conf.client_secret!, otherSecret: other.client_secret!, publicId: pub.client_id! };
}

test('a confidential client authenticates with its secret in Basic or in the body; a public client with its client_id alone', async (t) => {
  const s = await startOAuth(t);
  const c = await clients(s);
  accepted(await tokenRequest(s, {}, basic(c.id, c.secret)), 'client_secret_basic');
  accepted(await tokenRequest(s, { client_id: c.id, client_secret: c.secret }), 'client_secret_post');
  accepted(await tokenRequest(s, { client_id: c.publicId }), 'none');
  // The Basic user may be repeated as client_id in the body.
  accepted(await tokenRequest(s, { client_id: c.id }, basic(c.id, c.secret)), 'Basic and the same client_id');
  // The scheme is case-insensitive and may be followed by more than one space (RFC 7235 §2.1).
  const creds = basic(c.id, c.secret).slice('Basic '.length);
  accepted(await tokenRequest(s, {}, `basic ${creds}`), 'basic');
  accepted(await tokenRequest(s, {}, `BASIC ${creds}`), 'BASIC');
  accepted(await tokenRequest(s, {}, `Basic   ${creds}`), 'three spaces');
  // Percent-escapes in the id are undone (§2.3.1), also of characters that need none.
  const escaped = c.id.replace(/\./g, '%2E');
  assert.notEqual(escaped, c.id);
  accepted(await tokenRequest(s, {}, rawBasic(`${escaped}:${c.secret}`)), 'escaped id');
});

test('attack: a confidential client without its secret, with a wrong one or with another client\'s, is refused', async (t) => {
  const s = await startOAuth(t);
  const c = await clients(s);
  refused(await tokenRequest(s, { client_id: c.id }), 'registered client_secret_basic, used none', 'no secret');
  const wrong = `${c.secret.slice(0, -1)}${c.secret.endsWith('0') ? '1' : '0'}`;
  refused(await tokenRequest(s, {}, basic(c.id, wrong)), 'wrong client_secret', 'wrong secret in Basic');
  refused(await tokenRequest(s, { client_id: c.id, client_secret: wrong }), 'wrong client_secret', 'wrong secret in the body');
  refused(await tokenRequest(s, {}, basic(c.id, c.otherSecret)), 'wrong client_secret', "another client's secret in Basic");
  refused(await tokenRequest(s, { client_id: c.id, client_secret: c.otherSecret }), 'wrong client_secret', "another client's secret in the body");
  refused(await tokenRequest(s, {}, basic(c.id, `${c.secret}x`)), 'wrong client_secret', 'the secret and more');
  refused(await tokenRequest(s, {}, basic(c.id, c.secret.slice(1))), 'wrong client_secret', 'the secret less its first character');
  // In Basic, `+` is a space (§2.3.1), not nothing: the secret with a `+` inside is another one.
  refused(await tokenRequest(s, {}, rawBasic(`${c.id}:${c.secret.slice(0, 10)}+${c.secret.slice(10)}`)), 'wrong client_secret', 'a plus in the secret');
  accepted(await tokenRequest(s, {}, rawBasic(`${c.id}:%${c.secret.charCodeAt(0).toString(16)}${c.secret.slice(1)}`)), 'a percent-escape in the secret');
  // No client at all.
  refused(await tokenRequest(s, {}), 'no client_id', 'nothing');
  refused(await tokenRequest(s, { client_secret: c.secret }), 'no client_id', 'a secret without a client_id');
  accepted(await tokenRequest(s, {}, basic(c.id, c.secret)), 'the right secret');
});

test('attack: two authentication methods at once are refused, even with the same secret twice', async (t) => {
  const s = await startOAuth(t);
  const c = await clients(s);
  refused(await tokenRequest(s, { client_secret: c.secret }, basic(c.id, c.secret)), 'two authentication methods at once', 'the same secret in both');
  refused(await tokenRequest(s, { client_id: c.id, client_secret: c.secret }, basic(c.id, c.secret)), 'two authentication methods at once', 'Basic and post in full');
  refused(await tokenRequest(s, { client_id: c.id, client_secret: c.otherSecret }, basic(c.id, c.secret)), 'two authentication methods at once', 'different secrets');
  // A body that authenticates on its own, beside an Authorization header of another scheme.
  const post = { client_id: c.id, client_secret: c.secret };
  accepted(await tokenRequest(s, post), 'post alone');
  refused(await tokenRequest(s, post, 'Bearer abc'), 'unsupported Authorization scheme', 'post and a Bearer header');
  refused(await tokenRequest(s, { client_id: c.publicId }, 'Bearer abc'), 'unsupported Authorization scheme', 'a public client and a Bearer header');
});

test('attack: a public client presenting a secret is refused, in Basic or in the body', async (t) => {
  const s = await startOAuth(t);
  const c = await clients(s);
  accepted(await tokenRequest(s, { client_id: c.publicId }), 'no secret');
  refused(await tokenRequest(s, {}, basic(c.publicId, c.secret)), 'registered none, used client_secret_basic', 'Basic');
  refused(await tokenRequest(s, { client_id: c.publicId, client_secret: c.secret }), 'registered none, used client_secret_post', 'body');
});

test('attack: a client_id in the body that is not the Basic user is refused', async (t) => {
  const s = await startOAuth(t);
  const c = await clients(s);
  refused(await tokenRequest(s, { client_id: c.publicId }, basic(c.id, c.secret)), 'client_id differs from the Basic user', 'another client');
  refused(await tokenRequest(s, { client_id: `${c.id}x` }, basic(c.id, c.secret)), 'client_id differs from the Basic user', 'a longer id');
  accepted(await tokenRequest(s, { client_id: c.id }, basic(c.id, c.secret)), 'the same id');
  // The Basic user is compared once form-decoded (§2.3.1): `+` is a space, every one of them;
  // `%3A` a colon that does not end the user. These ids are no client's, so the comparison
  // passes and the lookup refuses them, or it fails and says so.
  const unknownCause = (await tokenRequest(s, { client_id: 'a b c' }, rawBasic('a+b+c:x'))).causes;
  assert.equal(unknownCause.length, 1);
  assert.notEqual(unknownCause[0], 'client_id differs from the Basic user');
  const unknown = (r: Reply, what: string) => refused(r, unknownCause[0] as string, what, 'unknown or invalid client');
  unknown(await tokenRequest(s, { client_id: 'a b c' }, rawBasic('a+b+c:x')), 'plus is a space');
  unknown(await tokenRequest(s, { client_id: 'a b c' }, rawBasic('a%20b%20c:x')), 'spaces escaped');
  unknown(await tokenRequest(s, { client_id: 'a b c' }, rawBasic('a b c:x')), 'spaces raw');
  refused(await tokenRequest(s, { client_id: 'abc' }, rawBasic('a+b+c:x')), 'client_id differs from the Basic user', 'plus is not nothing');
  refused(await tokenRequest(s, { client_id: 'a+b+c' }, rawBasic('a+b+c:x')), 'client_id differs from the Basic user', 'plus is not plus');
  refused(await tokenRequest(s, { client_id: 'a b+c' }, rawBasic('a+b+c:x')), 'client_id differs from the Basic user', 'every plus');
  unknown(await tokenRequest(s, { client_id: 'a:b' }, rawBasic('a%3Ab:x')), 'an escaped colon');
  refused(await tokenRequest(s, { client_id: 'a' }, rawBasic('a%3Ab:x')), 'client_id differs from the Basic user', 'an escaped colon is no separator');
});

test('attack: Basic credentials that are not form-urlencoded, or not Basic, are refused', async (t) => {
  const s = await startOAuth(t);
  const c = await clients(s);
  const creds = basic(c.id, c.secret).slice('Basic '.length);
  accepted(await tokenRequest(s, {}, `Basic ${creds}`), 'well-formed');
  for (const [header, cause] of [
    [rawBasic(c.id), 'malformed Basic credentials'],
    [rawBasic(`%ZZ:${c.secret}`), 'malformed Basic credentials'],
    [rawBasic(`${c.id}%:${c.secret}`), 'malformed Basic credentials'],
    [rawBasic(`${c.id}:${c.secret}%`), 'malformed Basic credentials'],
    [rawBasic(`${c.id}:%E0%A4%A`), 'malformed Basic credentials'],
    [`Basic`, 'unsupported Authorization scheme'],
    [`Basic ${creds}!`, 'unsupported Authorization scheme'],
    // Node's base64 decoder stops at the first "=": text after padding must not be ignored.
    [`Basic ${creds}=junk`, 'unsupported Authorization scheme'],
    [`Basic ${creds}==QUJD`, 'unsupported Authorization scheme'],
    [`Basic ${creds} x`, 'unsupported Authorization scheme'],
    [`Basic ${creds.slice(0, 8)}*${creds.slice(8)}`, 'unsupported Authorization scheme'],
    [`Basic${creds}`, 'unsupported Authorization scheme'],
    [`XBasic ${creds}`, 'unsupported Authorization scheme'],
    [`Bearer ${creds}`, 'unsupported Authorization scheme'],
    [`Digest ${creds}`, 'unsupported Authorization scheme'],
  ] as const) {
    refused(await tokenRequest(s, {}, header), cause, header);
  }
});

test('empty client_id and client_secret count as absent (Dovecot sends both beside Basic)', async (t) => {
  const s = await startOAuth(t);
  const c = await clients(s);
  const auth = basic(c.id, c.secret);
  accepted(await tokenRequest(s, { client_id: '', client_secret: '' }, auth), 'both empty');
  accepted(await tokenRequest(s, { client_secret: '' }, auth), 'an empty secret');
  accepted(await tokenRequest(s, { client_id: '' }, auth), 'an empty client_id');
  accepted(await tokenRequest(s, { client_id: c.id, client_secret: '' }, auth), 'the same id and an empty secret');
  accepted(await tokenRequest(s, { client_id: c.publicId, client_secret: '' }), 'a public client and an empty secret');
  refused(await tokenRequest(s, { client_id: c.id, client_secret: '' }), 'registered client_secret_basic, used none', 'a confidential client and an empty secret');
  refused(await tokenRequest(s, { client_id: '', client_secret: '' }), 'no client_id', 'nothing but empty values');
  refused(await tokenRequest(s, { client_id: '', client_secret: c.secret }), 'no client_id', 'a secret and an empty client_id');
});

test('introspection: empty credentials are dropped, other empty parameters kept (an empty token is no active token, not a missing one)', async (t) => {
  const s = await startOAuth(t);
  const c = await clients(s);
  const introspection = async (form: Record<string, string>): Promise<{ status: number; body: unknown }> => {
    const res = await fetch(`${s.issuer()}/oauth2/introspect`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(c.id, c.secret) },
      body: new URLSearchParams(form).toString(),
    });
    return { status: res.status, body: await res.json() };
  };
  const empties: Record<string, string>[] = [{}, { client_secret: '' }, { client_id: '' }, { client_id: '', client_secret: '' }];
  for (const extra of empties) {
    assert.deepEqual(await introspection({ ...extra, token: '' }), { status: 200, body: { active: false } }, JSON.stringify(extra));
    assert.deepEqual(await introspection({ ...extra }), { status: 400, body: { error: 'invalid_request', error_description: 'token is required' } }, JSON.stringify(extra));
  }
});
