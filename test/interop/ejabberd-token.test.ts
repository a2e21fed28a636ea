/**
 * A client that got an OAuth access token logs in to a real ejabberd with SASL PLAIN, the
 * token as its password: ejabberd's extauth_program is the Gatehouse bridge, which reads the
 * same database as the OAuth server.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { authorize, basic, pkce, REDIRECT, REGISTRATION_KEY, register, startOAuth, token } from '../helpers/oauth.js';
import { fixture, GATEHOUSE_BIN } from '../helpers/paths.js';
import { startEjabberd } from './ejabberd.js';
import { xmppLogin } from './xmpp.js';

test('ejabberd: an access token with the xmpp scope logs in its own user, and stops working when revoked', async (t) => {
  const dataDir = mkdtempSync(join(tmpdir(), 'gh-ejtok-'));
  t.after(() => rmSync(dataDir, { recursive: true, force: true }));
  const s = await startOAuth(t, '', { dataDir });
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const { verifier, challenge } = pkce();
  const code = (await authorize(issuer, client.client_id!, { challenge, scope: 'xmpp' })).searchParams.get('code')!;
  const access = (await token(issuer, { grant_type: 'authorization_code', code, redirect_uri: REDIRECT, code_verifier: verifier }, auth)).body['access_token'] as string;

  const config = join(dataDir, 'gatehouse.toml');
  writeFileSync(
    config,
    `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]
oauth2_registration_key = "${REGISTRATION_KEY}"
data_dir = ${JSON.stringify(dataDir)}
log_level = "warn"
[hosts."localhost"]
oauth2_issuer = "${issuer}"
`,
  );
  const ej = await startEjabberd({ extauthProgram: [process.execPath, GATEHOUSE_BIN, 'extauth', '--serve-protocol', 'ejabberd', '--config', config].join(' ') });
  t.after(() => ej.stop());
  const login = (jid: string, password: string) => xmppLogin({ port: ej.port, jid, password });

  assert.equal(await login('alice', access), true, ej.logTail());
  assert.equal(await login('bob', access), false, "another user's token");
  assert.equal(await login('alice', 'secret'), true, 'passwords still work');
  await fetch(`${issuer}/oauth2/revoke`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: auth }, body: `token=${access}` });
  assert.equal(await login('alice', access), false, 'a revoked token');
});
