/**
 * Grants follow the account (DESIGN.md, OAuth section; src/oauth/lifecycle.ts), on every face
 * that changes an account. The attack each test tries: someone holds what an account gave
 * out before it changed (an access token, a refresh token, a copied `gh_session` cookie, the
 * token used as an XMPP password), and the account's password is then changed, or the account
 * removed and its name registered again, through the auth HTTP API (Prosody's mod_auth_http)
 * or the extauth bridge (ejabberd, Prosody): every one of them must stop working, and the
 * account registered again must be a new subject (OIDC Core §2). A failure to revoke must
 * not be answered as a success.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import Database from 'better-sqlite3';
import { startBridge, writeConfig, type BridgeRun } from '../helpers/bridge.js';
import { field, TestBrowser } from '../helpers/browser.js';
import { postForm } from '../helpers/http.js';
import { authorize, basic, introspect, pkce, REDIRECT, REGISTRATION_KEY, register, startOAuth, token, type OAuthServer } from '../helpers/oauth.js';
import { fixture } from '../helpers/paths.js';

type Users = Record<string, Record<string, string>>;

interface Server extends OAuthServer {
  users(): Users;
  dataDir: string;
}

/** Gatehouse with users-file.mjs over a fresh accounts file, its SQLite store in a file. */
async function start(t: TestContext, users: Users): Promise<Server> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-lifecycle-'));
  const file = join(dir, 'users.json');
  writeFileSync(file, JSON.stringify(users));
  process.env['USERS_FILE'] = file;
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const server = await startOAuth(t, 'external_auth_processes = 1', { script: fixture('users-file.mjs'), dataDir: dir });
  return { ...server, dataDir: dir, users: () => JSON.parse(readFileSync(file, 'utf8')) as Users };
}

interface Held {
  auth: string;
  access: string;
  refresh: string;
  sub: string;
  /** The browser's session cookie, as a thief would copy it. */
  session: string;
}

/** Claims of a JWT, unverified (the tests compare them only). */
function claims(jwt: string): Record<string, unknown> {
  return JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString('utf8')) as Record<string, unknown>;
}

/** Sign in through the real flow (openid, xmpp, offline_access): what `user` holds afterwards. */
async function obtain(issuer: string, user: string, password: string): Promise<Held> {
  const browser = new TestBrowser();
  const client = await register(issuer, { client_name: 'Chat' });
  assert.equal(client.status, 201);
  const auth = basic(client.client_id!, client.client_secret!);
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge, user, password, browser, scope: 'openid xmpp offline_access' });
  const res = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return {
    auth,
    access: res.body['access_token'] as string,
    refresh: res.body['refresh_token'] as string,
    sub: claims(res.body['id_token'] as string)['sub'] as string,
    session: browser.jar.get('gh_session')!,
  };
}

/** A browser holding nothing but a copy of `session`. */
function thief(session: string): TestBrowser {
  const b = new TestBrowser();
  b.jar.set('gh_session', session);
  return b;
}

/** True when the copied session opens the account page (signed in: the password change form). */
async function sessionOpensAccount(issuer: string, session: string): Promise<boolean> {
  const page = await (await thief(session).get(`${issuer}/account`)).text();
  return page.includes('name="current_password"');
}

/** True when the copied session skips the password at /authorize (consent shown directly). */
async function sessionSkipsPassword(issuer: string, session: string): Promise<boolean> {
  const client = await register(issuer, { client_name: 'Other App' });
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: client.client_id!,
    redirect_uri: REDIRECT,
    scope: 'xmpp',
    state: 's',
    code_challenge: pkce().challenge,
    code_challenge_method: 'S256',
  });
  const page = await (await thief(session).get(`${issuer}/oauth2/authorize?${q}`)).text();
  assert.ok(page.includes('name="request"'), page);
  return !page.includes('name="password"');
}

/** The token as a password on the auth API (XMPP SASL PLAIN through mod_auth_http). */
async function tokenIsPassword(origin: string, user: string, access: string): Promise<boolean> {
  const r = await fetch(`${origin}/auth/check_password?${new URLSearchParams({ user, server: 'localhost', pass: access })}`);
  assert.equal(r.status, 200);
  return (await r.text()) === 'true';
}

/** Everything `held` can still do, each as a yes or no. */
async function powers(s: OAuthServer, user: string, held: Held): Promise<Record<string, boolean>> {
  const issuer = s.issuer();
  const userinfo = await fetch(`${issuer}/oauth2/userinfo`, { headers: { authorization: `Bearer ${held.access}` } });
  const refreshed = await token(issuer, { grant_type: 'refresh_token', refresh_token: held.refresh }, held.auth);
  return {
    introspectsActive: (await introspect(issuer, held.access, held.auth))['active'] === true,
    userinfo: userinfo.status === 200,
    tokenAsPassword: await tokenIsPassword(s.origin, user, held.access),
    sessionOpensAccount: await sessionOpensAccount(issuer, held.session),
    sessionSkipsPassword: await sessionSkipsPassword(issuer, held.session),
    // Last: a refresh that works rotates the token (and a second use would revoke the grant).
    refreshes: refreshed.status === 200,
  };
}

const ALL = { introspectsActive: true, userinfo: true, tokenAsPassword: true, sessionOpensAccount: true, sessionSkipsPassword: true, refreshes: true };
const NONE = { introspectsActive: false, userinfo: false, tokenAsPassword: false, sessionOpensAccount: false, sessionSkipsPassword: false, refreshes: false };

test('auth API: a password set through set_password ends every token, refresh token, token-as-password and session the user had', async (t) => {
  const s = await start(t, { localhost: { alice: 'old-pass', bob: 'bobs-pass' } });
  const stolen = await obtain(s.issuer(), 'alice', 'old-pass');
  const bobs = await obtain(s.issuer(), 'bob', 'bobs-pass');
  // What a thief of alice's tokens and cookie could do, until she changes her password.
  const before = await obtain(s.issuer(), 'alice', 'old-pass');
  assert.deepEqual(await powers(s, 'alice', before), ALL);

  const r = await postForm(`${s.origin}/auth/set_password`, { user: 'alice', server: 'localhost', pass: 'new-pass' });
  assert.equal(r.status, 204);
  assert.equal(s.users()['localhost']!['alice'], 'new-pass');

  assert.deepEqual(await powers(s, 'alice', stolen), NONE);
  assert.deepEqual(await powers(s, 'bob', bobs), ALL, "another user's grants and session stay");
  // The same name, the same account: the new password signs in as the same subject.
  assert.equal((await obtain(s.issuer(), 'alice', 'new-pass')).sub, 'alice@localhost');
});

test('auth API: a name removed and registered again is a new subject, and nothing of the old account acts for it', async (t) => {
  const s = await start(t, { localhost: { alice: 'old-pass' } });
  const stolen = await obtain(s.issuer(), 'alice', 'old-pass');
  assert.equal(stolen.sub, 'alice@localhost');

  assert.equal((await postForm(`${s.origin}/auth/remove_user`, { user: 'alice', server: 'localhost' })).status, 204);
  assert.deepEqual(await powers(s, 'alice', stolen), NONE);
  // Someone else takes the free name.
  assert.equal((await postForm(`${s.origin}/auth/register`, { user: 'alice', server: 'localhost', pass: 'new-owner' })).status, 201);
  assert.deepEqual(await powers(s, 'alice', stolen), NONE);

  const owner = await obtain(s.issuer(), 'alice', 'new-owner');
  assert.notEqual(owner.sub, stolen.sub, 'a sub is never reassigned (OIDC Core §2)');
  assert.equal(owner.sub, 'alice@localhost#2');
  const info = (await (await fetch(`${s.issuer()}/oauth2/userinfo`, { headers: { authorization: `Bearer ${owner.access}` } })).json()) as Record<string, unknown>;
  assert.deepEqual(info, { sub: 'alice@localhost#2', preferred_username: 'alice', jid: 'alice@localhost' });
  assert.equal((await introspect(s.issuer(), owner.access, owner.auth))['sub'], 'alice@localhost#2');
  assert.deepEqual(await powers(s, 'alice', owner), ALL, "the new owner's own grants work");
});

/** Send one generic-protocol query to the bridge and read its answer. */
async function ask(bridge: BridgeRun, query: string): Promise<string> {
  const had = bridge.stdout().length;
  bridge.child.stdin!.write(`${query}\n`);
  return (await bridge.waitForBytes(had + 2)).subarray(had).toString();
}

/** `gatehouse extauth` on pipes, a process of its own sharing the server's SQLite file. */
function bridgeFor(t: TestContext, s: Server): BridgeRun {
  const config = writeConfig(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('users-file.mjs'))}]
external_auth_processes = 1
oauth2_registration_key = "${REGISTRATION_KEY}"
data_dir = ${JSON.stringify(s.dataDir)}
[hosts."localhost"]
oauth2_issuer = "${s.issuer()}"
`);
  const bridge = startBridge(config, 'generic');
  t.after(async () => {
    bridge.child.stdin!.end();
    await bridge.exited;
    rmSync(join(config, '..'), { recursive: true, force: true });
  });
  return bridge;
}

test('extauth bridge: setpass, removeuser, removeuser3 and tryregister from the XMPP server revoke what the account gave out, on another instance', async (t) => {
  const s = await start(t, { localhost: { alice: 'old-pass' } });
  const bridge = bridgeFor(t, s);
  const stolen = await obtain(s.issuer(), 'alice', 'old-pass');
  // The bridge accepts the token as alice's password (the store is shared) until it changes.
  assert.equal(await ask(bridge, `auth:alice:localhost:${stolen.access}`), '1\n');

  assert.equal(await ask(bridge, 'setpass:alice:localhost:second'), '1\n');
  assert.equal(await ask(bridge, `auth:alice:localhost:${stolen.access}`), '0\n');
  assert.deepEqual(await powers(s, 'alice', stolen), NONE);

  const second = await obtain(s.issuer(), 'alice', 'second');
  assert.equal(second.sub, 'alice@localhost');
  assert.equal(await ask(bridge, 'removeuser3:alice:localhost:second'), '1\n');
  assert.deepEqual(await powers(s, 'alice', second), NONE);

  assert.equal(await ask(bridge, 'tryregister:alice:localhost:third'), '1\n');
  const third = await obtain(s.issuer(), 'alice', 'third');
  assert.equal(third.sub, 'alice@localhost#2', 'removal and registration each start a new generation');
  assert.equal(await ask(bridge, 'removeuser:alice:localhost'), '1\n');
  assert.deepEqual(await powers(s, 'alice', third), NONE);
  assert.deepEqual(s.users(), { localhost: {} });
});

test('when the revocation cannot be stored, the account change is not answered as a success, on the auth API nor the bridge', async (t) => {
  const s = await start(t, { localhost: { alice: 'old-pass', bob: 'bobs-pass' } });
  const bridge = bridgeFor(t, s);
  await obtain(s.issuer(), 'alice', 'old-pass');
  await obtain(s.issuer(), 'bob', 'bobs-pass');
  assert.equal(await ask(bridge, 'isuser:alice:localhost'), '1\n');
  // Another process holds the database's write lock past the stores' busy timeout: their
  // revocations fail as they would with a database that is down.
  const lock = new Database(join(s.dataDir, 'gatehouse.sqlite'));
  t.after(() => lock.close());
  lock.exec('BEGIN IMMEDIATE');
  // One after the other: the two scripts share the accounts file, one writer at a time.
  const api = await postForm(`${s.origin}/auth/set_password`, { user: 'alice', server: 'localhost', pass: 'changed' });
  const viaBridge = await ask(bridge, 'setpass:bob:localhost:changed-too');
  lock.exec('ROLLBACK');
  assert.equal(api.status, 503);
  assert.equal(api.headers.get('retry-after'), '1');
  assert.equal(viaBridge, '0\n');
  // The script did change both: the answers say the change is not done, and the logs say why.
  assert.deepEqual(s.users(), { localhost: { alice: 'changed', bob: 'changed-too' } });
  assert.match(s.log.text(), /account changed but its OAuth grants and sessions were not revoked/);
  assert.match(bridge.stderr(), /account changed but its OAuth grants and sessions were not revoked/);
});

test('account page: a session signed in before the account was removed and registered again does not open the new account', async (t) => {
  const s = await start(t, { localhost: { alice: 'old-pass' } });
  const issuer = s.issuer();
  const b = new TestBrowser();
  const form = await (await b.get(`${issuer}/account`)).text();
  assert.equal((await b.post(`${issuer}/account/login`, { csrf: field(form, 'csrf'), username: 'alice', password: 'old-pass' })).status, 303);
  const session = b.jar.get('gh_session')!;
  assert.equal(await sessionOpensAccount(issuer, session), true);

  assert.equal((await postForm(`${s.origin}/auth/remove_user`, { user: 'alice', server: 'localhost' })).status, 204);
  assert.equal((await postForm(`${s.origin}/auth/register`, { user: 'alice', server: 'localhost', pass: 'new-owner' })).status, 201);
  assert.equal(await sessionOpensAccount(issuer, session), false);
  assert.equal(await sessionSkipsPassword(issuer, session), false);
});
