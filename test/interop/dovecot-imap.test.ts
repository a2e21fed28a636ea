/**
 * Real Dovecot 2.3 (oauth2 passdb, introspection_mode = post) lets a mail client log in over
 * IMAP with AUTHENTICATE OAUTHBEARER and XOAUTH2 and a Gatehouse access token that another
 * client (the mail app) got: Dovecot introspects it with a resource-server credential
 * (oauth2_introspection_credentials). Refused: another user's token, an expired one, a revoked
 * one, one without the imap scope, garbage. A JWT access token (RFC 9068) for the configured
 * resource logs in the same way.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import type { JsonWebKey } from 'node:crypto';
import { test, type TestContext } from 'node:test';
import { promisify } from 'node:util';
import { parseConfigText } from '../../src/config/load.js';
import type { OAuthStore } from '../../src/storage/port.js';
import { hashSecret } from '../../src/oauth/tokens/secrets.js';
import { basic, onFreePort, register, REGISTRATION_KEY, serveConfig, token } from '../helpers/oauth.js';
import { join } from 'node:path';
import { fixture, ROOT } from '../helpers/paths.js';
import { startDovecotImap, type DovecotImap } from './dovecot-imap.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const RS_SECRET = 'dovecot-introspection-secret-0123';
const RESOURCE = 'imap://127.0.0.1';

interface Setup {
  issuer: string;
  store: OAuthStore;
  dovecot: DovecotImap;
  auth: string;
  /** A token from the password grant of the mail app. */
  tokenFor(user: string, scope: string, extra?: Record<string, string>): Promise<string>;
}

async function setup(t: TestContext, opts: { credentialsIn?: 'url' | 'settings'; dovecotScope?: string; jwtTyp?: string; localValidation?: boolean } = {}): Promise<Setup> {
  const { issuer, store } = await onFreePort(async (port) => {
    const issuer = `http://127.0.0.1:${port}/localhost`;
    const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]
oauth2_registration_key = "${REGISTRATION_KEY}"
auth_failure_limit_address = 0
[hosts."localhost"]
oauth2_issuer = "${issuer}"
oauth2_password_grant = true
oauth2_introspection_credentials = ["dovecot:${RS_SECRET}:imap"]
oauth2_jwt_resources = ["${RESOURCE}"]
${opts.jwtTyp !== undefined ? `oauth2_jwt_typ = "${opts.jwtTyp}"` : ''}
`);
    return { issuer, ...(await serveConfig(t, config, port)) };
  });
  const jwks = (await (await fetch(`${issuer}/oauth2/jwks`)).json()) as { keys: (JsonWebKey & { kid: string })[] };
  const dovecot = await startDovecotImap({
    introspectionUrl: `${issuer}/oauth2/introspect`,
    clientId: 'dovecot',
    clientSecret: RS_SECRET,
    ...(opts.credentialsIn !== undefined ? { credentialsIn: opts.credentialsIn } : {}),
    ...(opts.dovecotScope !== undefined ? { scope: opts.dovecotScope } : {}),
    ...(opts.localValidation === true ? { localValidation: { issuer, keys: jwks.keys } } : {}),
  });
  t.after(() => dovecot.stop());
  // The mail app: a client of its own, nothing to do with Dovecot's credential.
  const app = await register(issuer, { client_name: 'Mail App', grant_types: ['password'], redirect_uris: undefined, scope: 'imap smtp xmpp' });
  assert.equal(app.status, 201, JSON.stringify(app));
  const auth = basic(app.client_id!, app.client_secret!);
  const tokenFor = async (user: string, scope: string, extra: Record<string, string> = {}) => {
    const r = await token(issuer, { grant_type: 'password', username: user, password: 'secret', scope, ...extra }, auth);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    return r.body['access_token'] as string;
  };
  return { issuer, store, dovecot, auth, tokenFor };
}

type Mechanism = 'OAUTHBEARER' | 'XOAUTH2';

async function imapLogin(d: DovecotImap, mechanism: Mechanism, user: string, bearer: string): Promise<{ ok: boolean; detail: string; select: string | null }> {
  const { stdout } = await run(PYTHON, [fixturePy(), String(d.port), mechanism, user, bearer], { timeout: 30_000 });
  return JSON.parse(stdout) as { ok: boolean; detail: string; select: string | null };
}

function fixturePy(): string {
  return join(ROOT, 'test', 'interop', 'imap_oauth_login.py');
}

const MECHANISMS: readonly Mechanism[] = ['OAUTHBEARER', 'XOAUTH2'];

async function assertLogsIn(d: DovecotImap, mechanism: Mechanism, user: string, bearer: string): Promise<void> {
  const r = await imapLogin(d, mechanism, user, bearer);
  assert.ok(r.ok, `${mechanism} ${user}: ${r.detail}\n${d.logTail()}`);
  assert.equal(r.select, 'OK', `SELECT INBOX: ${JSON.stringify(r)}`);
}

async function assertRefused(d: DovecotImap, mechanism: Mechanism, user: string, bearer: string, why: string): Promise<void> {
  const r = await imapLogin(d, mechanism, user, bearer);
  assert.equal(r.ok, false, `${why} (${mechanism}) logged in:\n${d.logTail()}`);
  assert.match(r.detail, /AUTHENTICATIONFAILED|failed/i, `${why}: ${r.detail}`);
}

test('Dovecot IMAP: the right user with an imap-scoped token logs in with OAUTHBEARER and XOAUTH2 (credentials in the URL, as HTTP Basic)', async (t) => {
  const s = await setup(t);
  const bearer = await s.tokenFor('alice', 'imap');
  for (const m of MECHANISMS) await assertLogsIn(s.dovecot, m, 'alice', bearer);
});

test('Dovecot IMAP: credentials as client_id/client_secret settings, and Dovecot checking the scope itself', async (t) => {
  const s = await setup(t, { credentialsIn: 'settings', dovecotScope: 'imap' });
  const bearer = await s.tokenFor('alice', 'imap smtp');
  for (const m of MECHANISMS) await assertLogsIn(s.dovecot, m, 'alice', bearer);
});

test("Dovecot IMAP: another user's token is refused", async (t) => {
  const s = await setup(t);
  const bobs = await s.tokenFor('bob', 'imap');
  await assertLogsIn(s.dovecot, 'OAUTHBEARER', 'bob', bobs); // positive control
  for (const m of MECHANISMS) await assertRefused(s.dovecot, m, 'alice', bobs, "bob's token for alice");
});

test('Dovecot IMAP: a token without the imap scope is refused (the resource server credential requires it)', async (t) => {
  const s = await setup(t);
  await assertLogsIn(s.dovecot, 'XOAUTH2', 'alice', await s.tokenFor('alice', 'imap')); // positive control
  const xmppOnly = await s.tokenFor('alice', 'xmpp');
  const smtpOnly = await s.tokenFor('alice', 'smtp');
  for (const m of MECHANISMS) {
    await assertRefused(s.dovecot, m, 'alice', xmppOnly, 'an xmpp-only token');
    await assertRefused(s.dovecot, m, 'alice', smtpOnly, 'an smtp-only token');
  }
});

test('Dovecot IMAP: a revoked token (RFC 7009) is refused', async (t) => {
  const s = await setup(t);
  const bearer = await s.tokenFor('alice', 'imap');
  await assertLogsIn(s.dovecot, 'OAUTHBEARER', 'alice', bearer); // positive control
  const res = await fetch(`${s.issuer}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: s.auth },
    body: new URLSearchParams({ token: bearer, token_type_hint: 'access_token' }).toString(),
  });
  assert.equal(res.status, 200);
  for (const m of MECHANISMS) await assertRefused(s.dovecot, m, 'alice', bearer, 'a revoked token');
});

test('Dovecot IMAP: an expired token is refused', async (t) => {
  const s = await setup(t);
  const live = await s.tokenFor('alice', 'imap');
  await assertLogsIn(s.dovecot, 'XOAUTH2', 'alice', live); // positive control
  // A token of the same grant that expired a minute ago, stored the way the token endpoint
  // stores its tokens (no clock is faked and nothing waits).
  const found = await s.store.findToken(hashSecret(live));
  assert.ok(found);
  const expired = 'expired-token-of-alice-0123456789abcdefghijk';
  const now = Date.now();
  await s.store.saveTokens([{ hash: hashSecret(expired), kind: 'access', grantId: found.grant.id, scope: 'imap', createdAt: now - 120_000, expiresAt: now - 60_000, revokedAt: null, usedAt: null }]);
  for (const m of MECHANISMS) await assertRefused(s.dovecot, m, 'alice', expired, 'an expired token');
});

test('Dovecot IMAP: a garbage token is refused', async (t) => {
  const s = await setup(t);
  await assertLogsIn(s.dovecot, 'OAUTHBEARER', 'alice', await s.tokenFor('alice', 'imap')); // positive control
  for (const m of MECHANISMS) await assertRefused(s.dovecot, m, 'alice', 'not-a-token-at-all', 'a garbage token');
});

test('Dovecot IMAP: a JWT access token (RFC 9068) for the configured resource logs in through introspection; refused once revoked', async (t) => {
  const s = await setup(t);
  const jwt = await s.tokenFor('alice', 'imap', { resource: RESOURCE });
  assert.equal(jwt.split('.').length, 3, 'a JWT');
  const header = JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>;
  assert.equal(header['typ'], 'at+jwt');
  for (const m of MECHANISMS) await assertLogsIn(s.dovecot, m, 'alice', jwt);
  await assertRefused(s.dovecot, 'XOAUTH2', 'bob', jwt, "alice's JWT for bob");
  const res = await fetch(`${s.issuer}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: s.auth },
    body: new URLSearchParams({ token: jwt }).toString(),
  });
  assert.equal(res.status, 200);
  await assertRefused(s.dovecot, 'OAUTHBEARER', 'alice', jwt, 'a revoked JWT');
});

test("Dovecot IMAP, local JWT validation (introspection_mode = local): needs oauth2_jwt_typ = \"JWT\"; a revoked JWT stays valid there until exp", async (t) => {
  const s = await setup(t, { jwtTyp: 'JWT', localValidation: true, dovecotScope: 'imap' });
  const jwt = await s.tokenFor('alice', 'imap', { resource: RESOURCE });
  assert.equal((JSON.parse(Buffer.from(jwt.split('.')[0]!, 'base64url').toString()) as Record<string, unknown>)['typ'], 'JWT');
  for (const m of MECHANISMS) await assertLogsIn(s.dovecot, m, 'alice', jwt);
  await assertRefused(s.dovecot, 'XOAUTH2', 'bob', jwt, "alice's JWT for bob");
  await assertRefused(s.dovecot, 'XOAUTH2', 'alice', await s.tokenFor('alice', 'xmpp', { resource: RESOURCE }), 'a JWT without the imap scope');
  await assertRefused(s.dovecot, 'XOAUTH2', 'alice', await s.tokenFor('alice', 'imap'), 'an opaque token (nothing to validate locally)');
  const forged = jwt.slice(0, jwt.lastIndexOf('.') + 1) + Buffer.alloc(64, 1).toString('base64url');
  await assertRefused(s.dovecot, 'XOAUTH2', 'alice', forged, 'a JWT with a wrong signature');
  // Revocation reaches introspection, not a copy checked offline: the documented trade-off.
  const res = await fetch(`${s.issuer}/oauth2/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: s.auth },
    body: new URLSearchParams({ token: jwt }).toString(),
  });
  assert.equal(res.status, 200);
  await assertLogsIn(s.dovecot, 'OAUTHBEARER', 'alice', jwt);
});

test('Dovecot IMAP, local JWT validation: an RFC 9068 token (typ at+jwt) is refused by Dovecot 2.3', async (t) => {
  const s = await setup(t, { localValidation: true });
  const jwt = await s.tokenFor('alice', 'imap', { resource: RESOURCE });
  await assertRefused(s.dovecot, 'XOAUTH2', 'alice', jwt, 'typ at+jwt');
  assert.match(s.dovecot.logTail(200), /Cannot find 'typ' field/);
});
