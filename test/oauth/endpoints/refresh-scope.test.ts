/**
 * Refresh with a narrower scope (RFC 6749 §6): only the new access token is narrowed; the
 * successor refresh token keeps the scope the grant was given, so a later refresh may ask for
 * the whole scope again.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorize, basic, introspect, pkce, REDIRECT, register, startOAuth, token } from '../../helpers/oauth.js';

test('a narrowed refresh narrows the access token only; the next refresh gets the full scope back', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, client.client_id!, { challenge, scope: 'xmpp openid offline_access' });
  const first = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, auth);
  assert.equal(first.status, 200, JSON.stringify(first.body));
  assert.equal(first.body['scope'], 'xmpp openid offline_access');

  // Narrowed to a scope without offline_access: the grant has one, so a refresh token still comes.
  const narrow = await token(issuer, { grant_type: 'refresh_token', refresh_token: first.body['refresh_token'] as string, scope: 'xmpp' }, auth);
  assert.equal(narrow.status, 200, JSON.stringify(narrow.body));
  assert.equal(narrow.body['scope'], 'xmpp');
  assert.equal(typeof narrow.body['refresh_token'], 'string', 'the successor refresh token is issued');
  assert.equal((await introspect(issuer, narrow.body['access_token'] as string, auth))['scope'], 'xmpp', 'the access token is narrowed');
  assert.equal((await introspect(issuer, narrow.body['refresh_token'] as string, auth))['scope'], 'xmpp openid offline_access', 'the refresh token keeps the original scope');

  // Back to the whole original scope.
  const full = await token(issuer, { grant_type: 'refresh_token', refresh_token: narrow.body['refresh_token'] as string, scope: 'xmpp openid offline_access' }, auth);
  assert.equal(full.status, 200, JSON.stringify(full.body));
  assert.equal(full.body['scope'], 'xmpp openid offline_access');
  // No scope at all: the original scope (RFC 6749 §6: "treated as equal to the scope originally granted").
  const plain = await token(issuer, { grant_type: 'refresh_token', refresh_token: full.body['refresh_token'] as string }, auth);
  assert.equal(plain.body['scope'], 'xmpp openid offline_access');
  // Wider than the grant is still refused, and the refused token is not spent.
  const wider = await token(issuer, { grant_type: 'refresh_token', refresh_token: plain.body['refresh_token'] as string, scope: 'xmpp profile' }, auth);
  assert.equal(wider.body['error'], 'invalid_scope');
  const still = await token(issuer, { grant_type: 'refresh_token', refresh_token: plain.body['refresh_token'] as string }, auth);
  assert.equal(still.status, 200);
});
