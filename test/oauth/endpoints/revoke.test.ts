/** RFC 7009 §2.1: a client cannot revoke a token issued to another client; the request is refused. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authorize, basic, introspect, pkce, REDIRECT, register, startOAuth, token } from '../../helpers/oauth.js';

test("attack: revoking another client's token is refused, and the token stays valid", async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const victim = await register(issuer);
  const attacker = await register(issuer, { client_name: 'Other' });
  const victimAuth = basic(victim.client_id!, victim.client_secret!);
  const { verifier, challenge } = pkce();
  const back = await authorize(issuer, victim.client_id!, { challenge });
  const tokens = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: REDIRECT, code_verifier: verifier }, victimAuth);
  for (const kind of ['access_token', 'refresh_token']) {
    const res = await fetch(`${issuer}/oauth2/revoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basic(attacker.client_id!, attacker.client_secret!) },
      body: new URLSearchParams({ token: tokens.body[kind] as string }).toString(),
    });
    assert.equal(res.status, 400, kind);
    assert.deepEqual(await res.json(), { error: 'unauthorized_client', error_description: 'the token was not issued to this client' }, kind);
    assert.equal((await introspect(issuer, tokens.body[kind] as string, victimAuth))['active'], true, `${kind} not revoked`);
  }
});
