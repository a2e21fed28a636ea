/**
 * The bindings a token request must meet, each tried as an attack against a running server:
 * a code redeemed by another client, a code redeemed for another redirect_uri, a code (or a
 * refresh token) used after it expired, a refresh token presented by another client, a
 * replayed code or refresh token that also fails another check, a code or refresh token whose
 * grant was revoked. Each
 * attack is paired with the legitimate request that succeeds, so a refusal proves the binding
 * and not a broken flow.
 *
 * Expiry is reached by moving the clock of this process (node:test's mocked Date; timers stay
 * real), where the server runs: no sleeping, and the boundary itself is tried.
 */
import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { CODE_TTL_MS } from '../../../src/oauth/authorize/issue-code.js';
import { field, TestBrowser } from '../../helpers/browser.js';
import { authorize, basic, introspect, pkce, REDIRECT, register, signInAndAllow, startOAuth, token, type OAuthServer, type Registered } from '../../helpers/oauth.js';
import { grantIds } from '../../helpers/oauth-account.js';

const OTHER_REDIRECT = 'https://app.example.net/other-callback';

async function codeFor(issuer: string, client: Registered, opts: { redirectUri?: string; browser?: TestBrowser } = {}): Promise<{ code: string; verifier: string }> {
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge, ...opts });
  const code = back.searchParams.get('code');
  assert.ok(code !== null, `no code in ${back}`);
  return { code, verifier };
}

const authOf = (c: Registered) => basic(c.client_id!, c.client_secret!);

/** The reasons the server logged for refused token requests (never sent to the client). */
const refusals = (s: OAuthServer): unknown[] => s.log.entries.filter((e) => e.msg === 'OAuth request refused').map((e) => e.obj['cause']);

/** A registered client's Basic credentials and the tokens of its first redeemed code (asserted issued). */
async function redeemedClient(issuer: string): Promise<{ auth: string; body: Record<string, unknown> }> {
  const client = await register(issuer);
  const auth = authOf(client);
  const { code, verifier } = await codeFor(issuer, client);
  const issued = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(issued.status, 200, JSON.stringify(issued.body));
  return { auth, body: issued.body };
}

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

test('attack: a redeemed code replayed with a wrong verifier, or a wrong redirect_uri, is a replay all the same: the grant it bought is revoked', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { redirect_uris: [REDIRECT, OTHER_REDIRECT] });
  for (const name of ['verifier', 'redirect_uri'] as const) {
    const { code, verifier } = await codeFor(issuer, client);
    const own = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(client));
    assert.equal(own.status, 200, JSON.stringify(own.body));
    assert.equal((await introspect(issuer, own.body['access_token'] as string, authOf(client)))['active'], true, name);
    const warned = s.log.entries.filter((e) => e.msg === 'authorization code replayed; grant revoked').length;
    // The intercepted code, sent again by someone without its verifier (or elsewhere).
    const replay = await token(
      issuer,
      name === 'verifier'
        ? { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: pkce().verifier }
        : { grant_type: 'authorization_code', code, redirect_uri: OTHER_REDIRECT, code_verifier: verifier },
      authOf(client),
    );
    assert.equal(replay.status, 400, JSON.stringify(replay.body));
    assert.equal(replay.body['error'], 'invalid_grant', name);
    assert.equal(refusals(s).at(-1), 'code already used', name);
    assert.equal(s.log.entries.filter((e) => e.msg === 'authorization code replayed; grant revoked').length, warned + 1, name);
    assert.equal((await introspect(issuer, own.body['access_token'] as string, authOf(client)))['active'], false, name);
    assert.equal((await introspect(issuer, own.body['refresh_token'] as string, authOf(client)))['active'], false, name);
  }
});

test('attack: a code whose grant the user revoked before it was redeemed is refused as such, and stays refused', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const browser = new TestBrowser();
  const { code, verifier } = await codeFor(issuer, client, { browser });
  // The user takes the access away on the account page before the client redeems the code.
  const page = await (await browser.get(`${issuer}/account`)).text();
  const [grantId] = grantIds(page);
  assert.ok(grantId !== undefined, 'the grant is listed');
  assert.equal((await browser.post(`${issuer}/account/revoke`, { csrf: field(page, 'csrf'), grant: grantId })).status, 303);
  for (let i = 0; i < 2; i++) {
    const res = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(client));
    assert.equal(res.status, 400, JSON.stringify(res.body));
    assert.equal(res.body['error'], 'invalid_grant');
    assert.equal(res.body['access_token'], undefined);
  }
  assert.deepEqual(refusals(s), ['grant revoked', 'grant revoked']);
});

test('attack: a rotated refresh token reused with a scope it never had is a reuse all the same: the grant is revoked', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const { code, verifier } = await codeFor(issuer, client);
  const first = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(client));
  const old = first.body['refresh_token'] as string;
  const rotated = await token(issuer, { grant_type: 'refresh_token', refresh_token: old }, authOf(client));
  assert.equal(rotated.status, 200, JSON.stringify(rotated.body));
  assert.equal((await introspect(issuer, rotated.body['refresh_token'] as string, authOf(client)))['active'], true);
  const reuse = await token(issuer, { grant_type: 'refresh_token', refresh_token: old, scope: 'xmpp profile' }, authOf(client));
  assert.equal(reuse.status, 400, JSON.stringify(reuse.body));
  assert.equal(reuse.body['error'], 'invalid_grant');
  assert.deepEqual(refusals(s), ['refresh token already used']);
  assert.ok(s.log.entries.some((e) => e.msg === 'rotated refresh token reused; grant revoked'));
  assert.equal((await introspect(issuer, rotated.body['refresh_token'] as string, authOf(client)))['active'], false);
  assert.equal((await introspect(issuer, rotated.body['access_token'] as string, authOf(client)))['active'], false);
});

test('attack: a revoked refresh token is refused as revoked, with or without a scope, and spends nothing', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const { code, verifier } = await codeFor(issuer, client);
  const issued = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, authOf(client));
  const refresh = issued.body['refresh_token'] as string;
  const revoked = await fetch(`${issuer}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: authOf(client) },
    body: new URLSearchParams({ token: refresh }).toString(),
  });
  assert.equal(revoked.status, 200);
  for (const scope of [undefined, 'xmpp', 'xmpp profile']) {
    const res = await token(issuer, { grant_type: 'refresh_token', refresh_token: refresh, ...(scope !== undefined ? { scope } : {}) }, authOf(client));
    assert.equal(res.status, 400, JSON.stringify([scope, res.body]));
    assert.equal(res.body['error'], 'invalid_grant', String(scope));
    assert.equal(res.body['access_token'], undefined);
  }
  assert.deepEqual(refusals(s), Array(3).fill('refresh token revoked'));
  // Revoked is not reused: nothing was logged as a reuse.
  assert.ok(!s.log.entries.some((e) => e.msg === 'rotated refresh token reused; grant revoked'));
});

/** A POST to `path` under the issuer: its form and its headers beside the content type. */
interface Sent {
  readonly path: string;
  readonly form: Record<string, string>;
  readonly headers: Record<string, string>;
}

const tokenRequest = (form: Record<string, string>, auth: string): Sent => ({ path: 'oauth2/token', form, headers: { authorization: auth } });

/**
 * Requests sent in one TCP write on one connection (HTTP/1.1 pipelining): the server reads
 * them from one chunk, in order, each up to its first write before the storage's next group
 * commit, which comes once the chunk is handled. So the token requests among them are
 * checked before any is redeemed; a write that commits at once (a revocation) lands between
 * a token request's checks and its redemption. Returns the responses in order.
 */
async function sentTogether(issuer: string, requests: Sent[]): Promise<{ status: number; body: Record<string, unknown> }[]> {
  const url = new URL(issuer);
  const raw = requests
    .map(({ path, form, headers }) => {
      const body = new URLSearchParams(form).toString();
      const lines = Object.entries({ ...headers, host: url.host, 'content-type': 'application/x-www-form-urlencoded', 'content-length': String(Buffer.byteLength(body)) }).map(([k, v]) => `${k}: ${v}\r\n`);
      return `POST ${url.pathname}/${path} HTTP/1.1\r\n${lines.join('')}\r\n${body}`;
    })
    .join('');
  const socket = connect(Number(url.port), url.hostname);
  socket.write(raw);
  const responses: { status: number; body: Record<string, unknown> }[] = [];
  let buf = Buffer.alloc(0);
  for await (const chunk of socket) {
    buf = Buffer.concat([buf, chunk as Buffer]);
    for (;;) {
      const end = buf.indexOf('\r\n\r\n');
      if (end < 0) break;
      const head = buf.subarray(0, end).toString('latin1');
      const length = Number(/\r\ncontent-length: *(\d+)/i.exec(head)?.[1] ?? '0');
      if (buf.length < end + 4 + length) break;
      const text = buf.subarray(end + 4, end + 4 + length).toString('utf8');
      responses.push({ status: Number(head.split(' ')[1]), body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) });
      buf = buf.subarray(end + 4 + length);
    }
    if (responses.length === requests.length) break;
  }
  socket.destroy();
  return responses;
}

test('attack: a code sent twice at once is redeemed once; the other is a replay, and the grant it bought is revoked', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = authOf(client);
  // A first request, so the client is known (its client_id verified) before the race.
  const warm = await codeFor(issuer, client);
  assert.equal((await token(issuer, { grant_type: 'authorization_code', code: warm.code, redirect_uri: REDIRECT, code_verifier: warm.verifier }, auth)).status, 200);
  const { code, verifier } = await codeFor(issuer, client);
  const form = { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier };
  const [a, b] = await sentTogether(issuer, [tokenRequest(form, auth), tokenRequest(form, auth)]);
  assert.deepEqual([a!.status, b!.status], [200, 400], JSON.stringify([a, b]));
  assert.equal(b!.body['error'], 'invalid_grant');
  assert.equal(b!.body['access_token'], undefined);
  assert.equal(refusals(s).at(-1), 'code already used');
  assert.equal((await introspect(issuer, a!.body['access_token'] as string, auth))['active'], false, 'the winner\'s tokens are revoked with the grant');
  assert.equal((await introspect(issuer, a!.body['refresh_token'] as string, auth))['active'], false);
});

test('attack: a refresh token sent twice at once is rotated once; the other is a reuse, and the grant is revoked', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const { auth, body: issued } = await redeemedClient(issuer);
  const form = { grant_type: 'refresh_token', refresh_token: issued['refresh_token'] as string };
  const [a, b] = await sentTogether(issuer, [tokenRequest(form, auth), tokenRequest(form, auth)]);
  assert.deepEqual([a!.status, b!.status], [200, 400], JSON.stringify([a, b]));
  assert.equal(b!.body['error'], 'invalid_grant');
  assert.equal(b!.body['access_token'], undefined);
  assert.deepEqual(refusals(s), ['refresh token already used']);
  assert.equal((await introspect(issuer, a!.body['access_token'] as string, auth))['active'], false, 'the winner\'s tokens are revoked with the grant');
  assert.equal((await introspect(issuer, a!.body['refresh_token'] as string, auth))['active'], false);
});

test('attack: a refresh whose token is revoked after its checks, before its rotation, is refused as revoked and issues nothing', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const { auth, body: issued } = await redeemedClient(issuer);
  const refresh = issued['refresh_token'] as string;
  const [res, revoked] = await sentTogether(issuer, [
    tokenRequest({ grant_type: 'refresh_token', refresh_token: refresh }, auth),
    { path: 'oauth2/revoke', form: { token: refresh }, headers: { authorization: auth } },
  ]);
  assert.equal(revoked!.status, 200);
  assert.equal(res!.status, 400, JSON.stringify(res!.body));
  assert.equal(res!.body['error'], 'invalid_grant');
  assert.equal(res!.body['access_token'], undefined);
  assert.deepEqual(refusals(s), ['refresh token revoked']);
  assert.ok(!s.log.entries.some((e) => e.msg === 'rotated refresh token reused; grant revoked'));
  // And sent after the revocation, it is refused by the same name.
  const late = await token(issuer, { grant_type: 'refresh_token', refresh_token: refresh }, auth);
  assert.equal(late.body['error'], 'invalid_grant');
  assert.deepEqual(refusals(s), ['refresh token revoked', 'refresh token revoked']);
});
