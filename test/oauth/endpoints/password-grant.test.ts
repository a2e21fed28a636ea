/** The password grant: off by default (RFC 9700 §2.4), opt-in per host for legacy clients. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { basic, introspect, register, startOAuth, token } from '../../helpers/oauth.js';
import { fixture } from '../../helpers/paths.js';

const legacy = { grant_types: ['password', 'refresh_token'], redirect_uris: undefined, scope: 'xmpp offline_access' };

test('password grant is refused unless the host enables it', async (t) => {
  const s = await startOAuth(t);
  const meta = (await (await fetch(`${s.issuer()}/.well-known/oauth-authorization-server`)).json()) as { grant_types_supported: string[] };
  assert.ok(!meta.grant_types_supported.includes('password'));
  const client = await register(s.issuer(), legacy);
  assert.equal(client.status, 201);
  const r = await token(s.issuer(), { grant_type: 'password', username: 'alice', password: 'secret', scope: 'xmpp' }, basic(client.client_id!, client.client_secret!));
  assert.equal(r.body['error'], 'unsupported_grant_type');
});

test('enabled: right password gets tokens, wrong and injected ones do not, throttling applies', async (t) => {
  const s = await startOAuth(t, 'oauth2_password_grant = true\nauth_failure_limit_user = 3');
  const issuer = s.issuer();
  const meta = (await (await fetch(`${issuer}/.well-known/oauth-authorization-server`)).json()) as { grant_types_supported: string[] };
  assert.ok(meta.grant_types_supported.includes('password'));
  const client = await register(issuer, legacy);
  const auth = basic(client.client_id!, client.client_secret!);
  const ok = await token(issuer, { grant_type: 'password', username: 'Alice', password: 'secret', scope: 'xmpp offline_access' }, auth);
  assert.equal(ok.status, 200, JSON.stringify(ok.body));
  assert.ok(ok.body['refresh_token']);
  assert.equal((await introspect(issuer, ok.body['access_token'] as string, auth))['username'], 'alice');
  for (const password of ['wrong', 'x\nsetpass:admin:localhost:owned']) {
    const r = await token(issuer, { grant_type: 'password', username: 'alice', password, scope: 'xmpp' }, auth);
    assert.equal(r.status, 400);
    assert.equal(r.body['error'], 'invalid_grant');
  }
  await token(issuer, { grant_type: 'password', username: 'alice', password: 'wrong again', scope: 'xmpp' }, auth);
  const locked = await token(issuer, { grant_type: 'password', username: 'alice', password: 'secret', scope: 'xmpp' }, auth);
  assert.equal(locked.body['error'], 'invalid_grant');
  assert.equal(locked.body['error_description'], 'too many failed attempts; try again later');
  assert.ok(!s.log.text().includes('owned'));
  // A client that did not register the grant cannot use it.
  const web = await register(issuer);
  const r = await token(issuer, { grant_type: 'password', username: 'bob', password: 'secret', scope: 'xmpp' }, basic(web.client_id!, web.client_secret!));
  assert.equal(r.body['error'], 'unauthorized_client');
});

test('a script that crashes on the check: temporarily_unavailable (503), never tokens nor invalid_grant', async (t) => {
  // crash-query.mjs exits without answering when the password is "crash": the answer is unknown.
  const s = await startOAuth(t, 'oauth2_password_grant = true', { script: fixture('crash-query.mjs') });
  const client = await register(s.issuer(), legacy);
  const auth = basic(client.client_id!, client.client_secret!);
  // Positive control: the script answers other passwords.
  assert.equal((await token(s.issuer(), { grant_type: 'password', username: 'alice', password: 'secret', scope: 'xmpp' }, auth)).status, 200);
  const r = await token(s.issuer(), { grant_type: 'password', username: 'alice', password: 'crash', scope: 'xmpp' }, auth);
  assert.equal(r.status, 503);
  assert.equal(r.body['error'], 'temporarily_unavailable');
  assert.equal(r.body['access_token'], undefined);
});
