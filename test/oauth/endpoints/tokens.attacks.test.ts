/**
 * Revocation (RFC 7009), introspection (RFC 7662) and the password grant (RFC 6749 §4.3),
 * attacked over HTTP against a real app with a real SQLite store: a client revokes and
 * introspects only its own tokens, a resource server sees only live access tokens of its
 * host, and the password grant serves only the clients that registered it, when the host
 * enables it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashSecret } from '../../../src/oauth/tokens/secrets.js';
import { TestBrowser } from '../../helpers/browser.js';
import { codeTokens, logged, post, RESOURCE, RS_SECRET, signIn, start } from '../../helpers/oauth-attacks.js';
import { basic, register, token } from '../../helpers/oauth.js';

test("attack: revoking another client's token is refused and changes nothing; a client's own refresh token ends its grant", async (t) => {
  const s = await start(t);
  const victim = await register(s.issuer);
  const attacker = await register(s.issuer, { client_name: 'Attacker' });
  const vAuth = basic(victim.client_id!, victim.client_secret!);
  const aAuth = basic(attacker.client_id!, attacker.client_secret!);
  const b = new TestBrowser();
  await signIn(s, b, victim.client_id!);
  const tokens = await codeTokens(s, b, victim);
  const access = tokens['access_token'] as string;
  const refresh = tokens['refresh_token'] as string;
  const active = async (tok: string) => (await post(`${s.issuer}/oauth2/introspect`, { token: tok }, vAuth)).body['active'];

  for (const tok of [access, refresh]) {
    const r = await post(`${s.issuer}/oauth2/revoke`, { token: tok }, aAuth);
    assert.equal(r.status, 400);
    assert.deepEqual(r.body, { error: 'unauthorized_client', error_description: 'the token was not issued to this client' });
    assert.equal(await active(tok), true);
  }
  assert.ok(!s.log.text().includes('token revoked by its client'));
  // The log records the attempt for what it is.
  assert.equal(logged(s, 'OAuth request refused').filter((e) => e['error'] === 'unauthorized_client' && e['cause'] === "revocation of another client's token").length, 2);
  // No client authentication, no token: refused.
  assert.equal((await post(`${s.issuer}/oauth2/revoke`, { token: access })).status, 401);
  const missing = await post(`${s.issuer}/oauth2/revoke`, {}, vAuth);
  assert.equal(missing.status, 400);
  assert.equal(missing.body['error'], 'invalid_request');
  // Unknown tokens: 200 (RFC 7009 §2.2).
  const unknown = await post(`${s.issuer}/oauth2/revoke`, { token: 'nonsense' }, vAuth);
  assert.equal(unknown.status, 200);
  assert.equal(unknown.text, '');

  // Its own access token: only that token goes.
  const own = await post(`${s.issuer}/oauth2/revoke`, { token: access }, vAuth);
  assert.equal(own.status, 200);
  assert.equal(own.text, '');
  assert.equal(await active(access), false);
  assert.equal(await active(refresh), true, 'revoking an access token leaves the grant');
  const found = await s.store.findToken(hashSecret(access));
  assert.ok(found !== null && found.token.revokedAt !== null && found.grant.revokedAt === null);
  const found2 = (await s.store.findToken(hashSecret(access)))!;
  assert.deepEqual(logged(s, 'token revoked by its client'), [{ grant: found2.grant.id, kind: 'access' }]);

  // Its own refresh token: the whole grant, its other access tokens too (RFC 7009 §2.1).
  const second = await codeTokens(s, b, victim);
  assert.equal((await post(`${s.issuer}/oauth2/revoke`, { token: second['refresh_token'] as string }, vAuth)).status, 200);
  assert.equal(await active(second['access_token'] as string), false);
  assert.equal(await active(second['refresh_token'] as string), false);
  const grant = await s.store.findToken(hashSecret(second['refresh_token'] as string));
  assert.ok(grant !== null && grant.grant.revokedAt !== null);
  assert.deepEqual(logged(s, 'token revoked by its client')[1], { grant: grant.grant.id, kind: 'refresh' });
  assert.equal(await active(refresh), true, 'another grant is untouched');
});

test('introspection: only an authenticated confidential client about its own live tokens, or a resource server', async (t) => {
  const s = await start(t);
  const mail = await register(s.issuer, { grant_types: ['password', 'refresh_token'], redirect_uris: undefined, scope: 'imap smtp xmpp offline_access' });
  const other = await register(s.issuer, { grant_types: ['password'], redirect_uris: undefined, scope: 'imap', client_name: 'Other' });
  const pub = await register(s.issuer, { token_endpoint_auth_method: 'none' });
  assert.equal(pub.status, 201, JSON.stringify(pub));
  const mAuth = basic(mail.client_id!, mail.client_secret!);
  const oAuth = basic(other.client_id!, other.client_secret!);
  const rs = basic('dovecot', RS_SECRET);
  const any = basic('anyscope', `${RS_SECRET}x`);
  const pw = async (scope: string, extra: Record<string, string> = {}) => {
    const r = await token(s.issuer, { grant_type: 'password', username: 'alice', password: 'secret', scope, ...extra }, mAuth);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body;
  };
  const ask = (tok: string, auth?: string, issuer = s.issuer) => post(`${issuer}/oauth2/introspect`, { token: tok }, auth);
  const t1 = await pw('imap xmpp offline_access');
  const access = t1['access_token'] as string;
  const refresh = t1['refresh_token'] as string;

  const own = await ask(access, mAuth);
  const stored = (await s.store.findToken(hashSecret(access)))!;
  assert.deepEqual(own.body, {
    active: true,
    scope: 'imap xmpp offline_access',
    client_id: mail.client_id,
    username: 'alice',
    sub: 'alice@localhost',
    token_type: 'Bearer',
    exp: Math.floor(stored.token.expiresAt / 1000),
    iat: Math.floor(stored.token.createdAt / 1000),
    iss: s.issuer,
    aud: mail.client_id,
  });
  // Its refresh token, to the client itself: active, as a refresh_token.
  const ownRefresh = await ask(refresh, mAuth);
  assert.equal(ownRefresh.body['active'], true);
  assert.equal(ownRefresh.body['token_type'], 'refresh_token');
  assert.equal(ownRefresh.body['aud'], mail.client_id);

  // Unauthenticated, a public client, a wrong resource server secret: 401, nothing told.
  for (const [auth, label] of [[undefined, 'none'], [basic(pub.client_id!, ''), 'public'], [basic('dovecot', 'wrong'), 'wrong secret']] as const) {
    const r = await ask(access, auth);
    assert.equal(r.status, 401, label);
    assert.equal(r.body['error'], 'invalid_client', label);
    assert.equal(r.body['active'], undefined, label);
  }
  const pubPost = await post(`${s.issuer}/oauth2/introspect`, { token: access, client_id: pub.client_id! });
  assert.equal(pubPost.status, 401);
  assert.deepEqual(pubPost.body, { error: 'invalid_client', error_description: 'introspection needs client authentication' });
  // The empty client_id and client_secret Dovecot 2.3 adds beside Basic are no second method.
  assert.equal((await post(`${s.issuer}/oauth2/introspect`, { token: access, client_id: '', client_secret: '' }, rs)).body['active'], true);
  // Another client: inactive, like an unknown token.
  assert.deepEqual((await ask(access, oAuth)).body, { active: false });
  assert.deepEqual((await ask('unknown', mAuth)).body, { active: false });
  const missing = await post(`${s.issuer}/oauth2/introspect`, {}, mAuth);
  assert.equal(missing.status, 400);
  assert.equal(missing.body['error'], 'invalid_request');
  assert.equal(missing.body['error_description'], 'token is required');
  // The log says why the public client was refused; the client is told only that it must authenticate.
  assert.ok(logged(s, 'OAuth request refused').some((e) => e['error'] === 'invalid_client' && e['cause'] === 'public client'));

  // Resource servers: any token of the host, with its scope if the entry names one; never a
  // refresh token (RFC 6749 §1.5); never another host's token.
  assert.deepEqual((await ask(access, rs)).body, own.body);
  assert.equal((await ask(access, any)).body['active'], true);
  assert.deepEqual((await ask(refresh, rs)).body, { active: false });
  assert.deepEqual((await ask(refresh, any)).body, { active: false });
  const xmppOnly = (await pw('xmpp'))['access_token'] as string;
  assert.deepEqual((await ask(xmppOnly, rs)).body, { active: false }, 'no imap scope');
  assert.equal((await ask(xmppOnly, any)).body['active'], true, 'an entry without scope');
  const imapSmtp = (await pw('smtp imap'))['access_token'] as string;
  assert.equal((await ask(imapSmtp, rs)).body['active'], true, 'imap among others');
  assert.deepEqual((await ask(access, rs, s.otherIssuer)).body, { active: false }, "another host's token");
  assert.deepEqual((await ask(access, mAuth, s.otherIssuer)).status, 401, 'the client is not one of the other host');
  assert.deepEqual(logged(s, 'introspection: token not active')[0], { resourceServer: 'dovecot' });

  // A JWT access token (RFC 9068): aud is its resource.
  const jwt = (await pw('imap', { resource: RESOURCE }))['access_token'] as string;
  const jwtInfo = await ask(jwt, rs);
  assert.equal(jwtInfo.body['active'], true);
  assert.equal(jwtInfo.body['aud'], RESOURCE);

  // Spent, revoked, expired: inactive to everyone.
  const rotated = await token(s.issuer, { grant_type: 'refresh_token', refresh_token: refresh }, mAuth);
  assert.equal(rotated.status, 200);
  assert.deepEqual((await ask(refresh, mAuth)).body, { active: false }, 'a rotated refresh token');
  const fresh = (await pw('imap'))['access_token'] as string;
  await s.store.revokeToken(hashSecret(fresh), Date.now());
  assert.deepEqual((await ask(fresh, mAuth)).body, { active: false }, 'revoked token');
  assert.deepEqual((await ask(fresh, rs)).body, { active: false });
  const inGrant = await pw('imap');
  const g = (await s.store.findToken(hashSecret(inGrant['access_token'] as string)))!;
  await s.store.revokeGrant(g.grant.id, Date.now());
  assert.deepEqual((await ask(inGrant['access_token'] as string, mAuth)).body, { active: false }, 'revoked grant');
  // A token stored under a grant revoked before it (issued in a race with the revocation, or for
  // an account that ended meanwhile, whose grant is stored revoked): the token itself is not
  // revoked, its grant is.
  await s.store.saveToken({ hash: hashSecret('late-token'), kind: 'access', grantId: g.grant.id, scope: 'imap', createdAt: Date.now(), expiresAt: Date.now() + 3_600_000, revokedAt: null, usedAt: null });
  assert.equal((await s.store.findToken(hashSecret('late-token')))?.token.revokedAt, null);
  assert.deepEqual((await ask('late-token', mAuth)).body, { active: false }, 'token of a revoked grant');
  assert.deepEqual((await ask('late-token', rs)).body, { active: false });
  // An expired token, stored as the issuer stores them: a live grant, expiry just past.
  const live = await pw('imap');
  const lg = (await s.store.findToken(hashSecret(live['access_token'] as string)))!;
  const now = Date.now();
  await s.store.saveToken({ hash: hashSecret('expired-token'), kind: 'access', grantId: lg.grant.id, scope: 'imap', createdAt: now - 7_200_000, expiresAt: now - 1000, revokedAt: null, usedAt: null });
  assert.deepEqual((await ask('expired-token', mAuth)).body, { active: false }, 'expired token');
  assert.deepEqual((await ask('expired-token', rs)).body, { active: false });
  await s.store.saveToken({ hash: hashSecret('later-token'), kind: 'access', grantId: lg.grant.id, scope: 'imap', createdAt: now, expiresAt: now + 3_600_000, revokedAt: null, usedAt: null });
  assert.equal((await ask('later-token', mAuth)).body['active'], true, 'positive control: the same, unexpired');
});

test('the password grant: only a registered client, valid scope and username, right password; the grant it stores', async (t) => {
  const s = await start(t, 'auth_failure_limit_user = 2');
  const legacy = await register(s.issuer, { grant_types: ['password', 'refresh_token'], redirect_uris: undefined, scope: 'xmpp imap offline_access', client_uri: 'https://legacy.example/' });
  const web = await register(s.issuer);
  const auth = basic(legacy.client_id!, legacy.client_secret!);
  const grant = (form: Record<string, string>, a = auth) => token(s.issuer, { grant_type: 'password', ...form }, a);
  const good = { username: 'alice', password: 'secret', scope: 'xmpp' };

  const web1 = await grant(good, basic(web.client_id!, web.client_secret!));
  assert.equal(web1.status, 400);
  assert.equal(web1.body['error'], 'unauthorized_client');
  for (const drop of ['username', 'password'] as const) {
    const { [drop]: _, ...rest } = good;
    const r = await grant(rest);
    assert.equal(r.body['error'], 'invalid_request', drop);
    assert.equal(r.body['error_description'], 'username and password are required');
  }
  assert.equal((await grant({ ...good, scope: 'xmpp root' })).body['error'], 'invalid_scope');
  const unregistered = await grant({ ...good, scope: 'smtp' });
  assert.equal(unregistered.body['error'], 'invalid_scope');
  assert.equal(unregistered.body['error_description'], 'no scope requested that the client registered');
  const badName = await grant({ ...good, username: 'a b' });
  assert.equal(badName.body['error'], 'invalid_grant');
  assert.equal(badName.body['error_description'], 'wrong username or password');
  assert.equal((await grant({ ...good, username: 'bob', password: 'wrong' })).body['error_description'], 'wrong username or password');
  assert.equal((await grant({ ...good, username: 'bob', password: 'wrong' })).body['error_description'], 'wrong username or password');
  const locked = await grant({ ...good, username: 'bob' });
  assert.equal(locked.status, 400);
  assert.deepEqual(locked.body, { error: 'invalid_grant', error_description: 'too many failed attempts; try again later' });
  assert.equal((await s.store.listGrants('localhost', 'bob')).length, 0);
  // The log keeps why each was refused; the client is told only 'wrong username or password'.
  const causes = logged(s, 'OAuth request refused').map((e) => e['cause']);
  assert.ok(causes.includes('the auth script said no, or the password cannot be sent'), JSON.stringify(causes));
  assert.ok(causes.some((c) => typeof c === 'string' && c !== 'the auth script said no, or the password cannot be sent' && c !== ''), 'the username refusal has its own reason');

  const before = Date.now();
  const ok = await grant({ ...good, username: 'Alice@localhost', scope: 'xmpp offline_access smtp' });
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.equal(ok.body['scope'], 'xmpp offline_access');
  assert.ok(typeof ok.body['refresh_token'] === 'string');
  // No resource asked: an opaque access token, not a JWT (RFC 9068 only for a configured resource).
  assert.doesNotMatch(ok.body['access_token'] as string, /\./);
  const [g] = await s.store.listGrants('localhost', 'alice');
  assert.ok(g !== undefined);
  const { id, createdAt, lastUsedAt, authTime, ...rest } = g;
  assert.deepEqual(rest, { host: 'localhost', user: 'alice', clientId: legacy.client_id, clientHash: hashSecret(legacy.client_id!), clientName: 'Test Chat', clientUri: 'https://legacy.example/', scope: 'xmpp offline_access', revokedAt: null, generation: 0 });
  assert.ok(createdAt >= before && lastUsedAt === createdAt && authTime === createdAt, 'authenticated now, with the password');
  const found = await s.store.findToken(hashSecret(ok.body['access_token'] as string));
  assert.equal(found?.grant.id, id);
  assert.equal(found?.token.scope, 'xmpp offline_access');
  // No scope asked: none granted.
  const none = await grant({ username: 'alice', password: 'secret' });
  assert.equal(none.body['error'], 'invalid_scope');
  // With a resource: a JWT access token for alice.
  const jwt = await grant({ ...good, scope: 'imap', resource: RESOURCE });
  assert.equal(jwt.status, 200, JSON.stringify(jwt.body));
  const payload = JSON.parse(Buffer.from((jwt.body['access_token'] as string).split('.')[1]!, 'base64url').toString()) as Record<string, unknown>;
  assert.equal(payload['aud'], RESOURCE);
  assert.equal(payload['sub'], 'alice@localhost');
});

test('the token rate limit covers revocation and introspection: 429 with Retry-After past it', async (t) => {
  const s = await start(t, 'oauth2_token_rate_limit = 3');
  for (const [issuer, path, what] of [[s.issuer, 'revoke', 'revocation requests'], [s.otherIssuer, 'introspect', 'introspection requests']] as const) {
    for (let i = 0; i < 3; i++) assert.equal((await post(`${issuer}/oauth2/${path}`, { token: 'x' })).status, 401, `${path} ${i}`);
    const res = await fetch(`${issuer}/oauth2/${path}`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'token=x' });
    assert.equal(res.status, 429, path);
    assert.ok(Number(res.headers.get('retry-after')) > 0);
    assert.deepEqual(await res.json(), { error: 'temporarily_unavailable', error_description: `too many ${what}; try again later` });
  }
});

test('the password grant is refused when the host does not enable it (RFC 9700 §2.4)', async (t) => {
  const s = await start(t, '', { passwordGrant: false });
  const legacy = await register(s.issuer, { grant_types: ['password'], redirect_uris: undefined, scope: 'xmpp' });
  const r = await token(s.issuer, { grant_type: 'password', username: 'alice', password: 'secret', scope: 'xmpp' }, basic(legacy.client_id!, legacy.client_secret!));
  assert.equal(r.status, 400);
  assert.equal(r.body['error'], 'unsupported_grant_type');
  assert.equal((await s.store.listGrants('localhost', 'alice')).length, 0);
});

test('the password grant when the auth script dies on the check: temporarily_unavailable, no grant', async (t) => {
  // crash-query.mjs exits without answering when the password is "crash".
  const s = await start(t, '', { script: 'crash-query.mjs' });
  const legacy = await register(s.issuer, { grant_types: ['password'], redirect_uris: undefined, scope: 'xmpp' });
  const auth = basic(legacy.client_id!, legacy.client_secret!);
  const r = await token(s.issuer, { grant_type: 'password', username: 'alice', password: 'crash', scope: 'xmpp' }, auth);
  assert.equal(r.status, 503);
  assert.equal(r.body['error'], 'temporarily_unavailable');
  assert.equal((await s.store.listGrants('localhost', 'alice')).length, 0);
  // Positive control: the script, started again, answers another password.
  assert.equal((await token(s.issuer, { grant_type: 'password', username: 'alice', password: 'secret', scope: 'xmpp' }, auth)).status, 200);
});
