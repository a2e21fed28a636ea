/**
 * Loopback redirect URIs match exactly but for the port (RFC 8252 §7.3, RFC 6749 §3.1.2,
 * RFC 9700 §4.1.3; issue 13 item 3): every other spelling of a registered
 * `http://127.0.0.1/cb` or `http://[::1]/cb` that a URL parser would take for the same place
 * is refused on our page, and no code is sent to it.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TestBrowser } from '../../helpers/browser.js';
import { authorize, pkce, register, startOAuth, token } from '../../helpers/oauth.js';

const HOSTILE = [
  'http://127.0.0.1/cb#frag',
  'http://evil@127.0.0.1/cb',
  'http://u:p@127.0.0.1:8080/cb',
  'http://127.0.0.1/x/../cb',
  'http://127.0.0.1/./cb',
  'http://2130706433/cb',
  'http://127.1/cb',
  'http://0x7f.0.0.1/cb',
  'HTTP://127.0.0.1/cb',
  'http://127.0.0.1:08080/cb',
  'http://127.0.0.1:/cb',
  'http://127.0.0.1/cb/',
  'http://127.0.0.1/CB',
  'http://127.0.0.1/%63b',
  'http://127.0.0.1\\cb',
  'http://127.0.0.1/c\tb',
  'http://[0:0:0:0:0:0:0:1]:8080/cb',
  'http://[::ffff:127.0.0.1]/cb',
  'http://[::1]/cb#',
];

test('authorize: a loopback redirect URI differing in anything but the port is refused, never redirected to', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]/cb'] });
  assert.equal(client.status, 201);
  const { challenge } = pkce();
  for (const redirect of HOSTILE) {
    const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: redirect, scope: 'xmpp', state: 's', code_challenge: challenge, code_challenge_method: 'S256' });
    const r = await new TestBrowser().get(`${issuer}/oauth2/authorize?${q}`);
    assert.equal(r.status, 400, `${redirect} was accepted`);
    assert.equal(r.headers.get('location'), null);
    assert.match(await r.text(), /did not register/);
  }
});

test('authorize: the registered loopback URI with any port still works, and the code is bound to it', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer, { application_type: 'native', token_endpoint_auth_method: 'none', redirect_uris: ['http://127.0.0.1/cb', 'http://[::1]/cb?x=1'] });
  for (const redirect of ['http://127.0.0.1/cb', 'http://127.0.0.1:51004/cb', 'http://[::1]:65535/cb?x=1']) {
    const { verifier, challenge } = pkce();
    const back = await authorize(issuer, client.client_id!, { challenge, redirectUri: redirect, scope: 'xmpp' });
    assert.equal(`${back.origin}${back.pathname}`, new URL(redirect).origin + new URL(redirect).pathname);
    const tok = await token(issuer, { grant_type: 'authorization_code', code: back.searchParams.get('code')!, redirect_uri: redirect, code_verifier: verifier, client_id: client.client_id! });
    assert.equal(tok.status, 200, JSON.stringify(tok.body));
  }
});
