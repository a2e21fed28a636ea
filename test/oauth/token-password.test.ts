/**
 * An OAuth access token with an XMPP scope is accepted as the password of its own user by the
 * auth HTTP API and by the `gatehouse extauth` bridge (reading the same database), so a client
 * that got a token by OAuth can log in with SASL PLAIN. Anything else is refused.
 */
import assert from 'node:assert/strict';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixtureCommand, startBridge, writeConfig } from '../helpers/bridge.js';
import { authorize, basic, pkce, REDIRECT, REGISTRATION_KEY, register, startOAuth, token } from '../helpers/oauth.js';
import { fixture } from '../helpers/paths.js';

async function accessToken(issuer: string, scope: string, user = 'alice'): Promise<{ access: string; auth: string }> {
  const client = await register(issuer, { scope: 'xmpp xmpp:client:normal xmpp:account:read xmpp:account:write openid offline_access' });
  const auth = basic(client.client_id!, client.client_secret!);
  const { verifier, challenge } = pkce();
  const code = (await authorize(issuer, client.client_id!, { challenge, scope, user, password: `pw-${user}` })).searchParams.get('code')!;
  const t = await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  return { access: t.body['access_token'] as string, auth };
}

test('auth API: a token logs in its own user only, while valid and with an xmpp scope', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const check = async (user: string, pass: string, server = 'localhost') =>
    (await fetch(`${s.origin}/auth/check_password?${new URLSearchParams({ user, server, pass })}`)).text();
  const { access, auth } = await accessToken(issuer, 'xmpp offline_access');
  assert.equal(await check('alice', access), 'true');
  assert.equal(await check('bob', access), 'false', "another user's token");
  assert.equal(await check('alice', access, 'other.example'), 'false', 'a token of another host');
  const openidOnly = await accessToken(issuer, 'openid');
  assert.equal(await check('alice', openidOnly.access), 'false', 'no xmpp scope');
  // XEP-0493: the account-only scopes do not permit communication access, so no login.
  const accountOnly = await accessToken(issuer, 'xmpp:account:read xmpp:account:write');
  assert.equal(await check('alice', accountOnly.access), 'false', 'account-only scopes');
  const normal = await accessToken(issuer, 'xmpp:client:normal');
  assert.equal(await check('alice', normal.access), 'true', "XEP-0493's normal client scope");
  await fetch(`${issuer}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: `token=${access}` });
  assert.equal(await check('alice', access), 'false', 'revoked');
});

test('gatehouse extauth: a token logs in through the bridge, from the same database', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gh-data-'));
  const s = await startOAuth(t, '', { dataDir });
  const { access } = await accessToken(s.issuer(), 'xmpp:client:normal');
  const config = writeConfig(`${fixtureCommand(fixture('fast.mjs'))}
oauth2_registration_key = "${REGISTRATION_KEY}"
data_dir = ${JSON.stringify(dataDir)}
log_level = "silent"
[hosts."localhost"]
oauth2_issuer = "${s.issuer()}"
`);
  const b = startBridge(config, 'generic');
  t.after(() => b.child.kill('SIGKILL'));
  const altered = `${access.slice(0, -1)}${access.endsWith('A') ? 'B' : 'A'}`;
  b.child.stdin!.write(`auth:alice:localhost:${access}\nauth:bob:localhost:${access}\nauth:alice:localhost:${altered}\nauth:alice:localhost:secret\n`);
  assert.equal((await b.waitForBytes(8)).toString(), '1\n0\n0\n1\n');
});
