/**
 * The sign-in page's failure throttle (accounts/accounts.ts header): wrong passwords from
 * other addresses never lock the real user out, each address that failed is refused for that
 * user (with Retry-After), and once a user's failures from many addresses pass the ceiling,
 * each address gets one guess. Requests come from real distinct loopback addresses.
 */
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { test } from 'node:test';
import { TestBrowser, field } from '../../helpers/browser.js';
import { pkce, register, REDIRECT, startOAuth } from '../../helpers/oauth.js';

/** POST a form to `url` from the loopback address `from`. */
function postFrom(from: string, url: string, form: Record<string, string>, cookie: string): Promise<{ status: number; retryAfter: string | undefined }> {
  return new Promise((resolve, reject) => {
    const body = new URLSearchParams(form).toString();
    const req = request(url, { method: 'POST', localAddress: from, headers: { 'content-type': 'application/x-www-form-urlencoded', cookie, 'content-length': Buffer.byteLength(body) } }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode!, retryAfter: res.headers['retry-after'] as string | undefined }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

test('attack: wrong passwords from many addresses do not lock the real user out of the sign-in page nor of XMPP', async (t) => {
  const s = await startOAuth(t, 'auth_failure_limit_user = 3');
  const issuer = s.issuer();
  const client = await register(issuer);
  const b = new TestBrowser();
  const q = new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
  const page = await (await b.get(`${issuer}/oauth2/authorize?${q}`)).text();
  const cookie = [...b.jar].map(([k, v]) => `${k}=${v}`).join('; ');
  const login = (from: string, password: string) => postFrom(from, `${issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: 'alice', password }, cookie);

  // Three failures from one address: that address is refused for alice, with Retry-After.
  for (let i = 0; i < 3; i++) assert.equal((await login('127.0.0.10', `guess-${i}`)).status, 401);
  const refused = await login('127.0.0.10', 'secret');
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.retryAfter) > 0, 'Retry-After on the 429');
  // The real user, elsewhere, signs in; so does XMPP through the auth API (no address).
  assert.equal((await login('127.0.0.2', 'secret')).status, 303);
  const xmpp = await fetch(`${s.origin}/auth/check_password?${new URLSearchParams({ user: 'alice', server: 'localhost', pass: 'secret' })}`);
  assert.equal(await xmpp.text(), 'true');

  // Spread over ten more addresses: the user's total passes its ceiling (10 × 3).
  for (let a = 11; a <= 19; a++) for (let i = 0; i < 3; i++) assert.equal((await login(`127.0.0.${a}`, `guess-${a}-${i}`)).status, 401);
  // Now an address gets one guess: after one failure it is refused, even with the password.
  assert.equal((await login('127.0.0.20', 'guess-20')).status, 401);
  const oneGuess = await login('127.0.0.20', 'secret');
  assert.equal(oneGuess.status, 429);
  assert.ok(Number(oneGuess.retryAfter) > 0);
  // An address without a failure for alice (the real user) still signs in.
  assert.equal((await login('127.0.0.3', 'secret')).status, 303);
  assert.equal(await (await fetch(`${s.origin}/auth/check_password?${new URLSearchParams({ user: 'alice', server: 'localhost', pass: 'secret' })}`)).text(), 'true');
});
