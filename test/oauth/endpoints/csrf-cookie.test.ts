/**
 * The CSRF cookie: a value the browser brought (planted by someone else, who could then get
 * our forms made for it) is replaced at sign-in, so a form made for the old value no longer
 * passes; under an https issuer the cookie is `__Host-` prefixed (Secure, Path=/, no Domain).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { TestContext } from 'node:test';
import { parseConfigText } from '../../../src/config/load.js';
import { TestBrowser, field } from '../../helpers/browser.js';
import { onFreePort, pkce, REDIRECT, register, REGISTRATION_KEY, serveConfig, startOAuth } from '../../helpers/oauth.js';
import { fixture } from '../../helpers/paths.js';

const PLANTED = 'AAAAAAAAAAAAAAAAAAAAAAAA';

function authorizeUrl(issuer: string, clientId: string): string {
  const q = new URLSearchParams({ response_type: 'code', client_id: clientId, redirect_uri: REDIRECT, scope: 'xmpp', code_challenge: pkce().challenge, code_challenge_method: 'S256' });
  return `${issuer}/oauth2/authorize?${q}`;
}

test('attack: a planted CSRF cookie value does not survive the sign-in', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const b = new TestBrowser();
  b.jar.set('gh_csrf', PLANTED);
  const page = await (await b.get(authorizeUrl(issuer, client.client_id!))).text();
  assert.equal(b.jar.get('gh_csrf'), PLANTED, 'a well-formed value is used for the page');
  const login = await b.post(`${issuer}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: 'alice', password: 'secret' });
  assert.equal(login.status, 303);
  const rotated = login.headers.getSetCookie().find((c) => c.startsWith('gh_csrf='));
  assert.ok(rotated !== undefined, 'a new CSRF cookie at sign-in');
  assert.match(rotated, /; Path=\/localhost; HttpOnly; SameSite=Strict; Max-Age=\d+$/);
  assert.notEqual(b.jar.get('gh_csrf'), PLANTED);
  // A consent form made for the planted value (the one whoever planted it could obtain) fails.
  const forged = await b.post(`${issuer}/oauth2/authorize/consent`, { request: field(page, 'request'), csrf: field(page, 'csrf'), decision: 'allow' });
  assert.equal(forged.status, 403);
  assert.equal(forged.headers.get('location'), null);
  // The consent page shown after the sign-in carries a form for the new value, which passes.
  const consent = await (await b.get(new URL(login.headers.get('location')!, issuer).href)).text();
  const allowed = await b.post(`${issuer}/oauth2/authorize/consent`, { request: field(consent, 'request'), csrf: field(consent, 'csrf'), decision: 'allow' });
  assert.equal(allowed.status, 303);
  assert.ok(new URL(allowed.headers.get('location')!).searchParams.get('code'));
});

function startHttpsIssuer(t: TestContext): Promise<{ base: string }> {
  return onFreePort((port) => startHttpsIssuerOn(t, port));
}

async function startHttpsIssuerOn(t: TestContext, port: number): Promise<{ base: string }> {
  // The issuer names https (as behind a TLS-terminating proxy); the test talks to the app directly.
  const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]
oauth2_registration_key = "${REGISTRATION_KEY}"
auth_failure_limit_address = 0
[hosts."localhost"]
oauth2_issuer = "https://127.0.0.1:${port}/localhost"
`);
  await serveConfig(t, config, port);
  return { base: `http://127.0.0.1:${port}/localhost` };
}

test('under an https issuer the CSRF cookie is __Host- prefixed, and only that name is read', async (t) => {
  const { base } = await startHttpsIssuer(t);
  const client = await register(base);
  const b = new TestBrowser();
  const res = await b.get(authorizeUrl(base, client.client_id!));
  const page = await res.text();
  const set = res.headers.getSetCookie().find((c) => c.startsWith('__Host-gh_csrf='));
  assert.ok(set !== undefined, res.headers.getSetCookie().join(' | '));
  assert.match(set, /^__Host-gh_csrf=[A-Za-z0-9_-]{24}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=\d+; Secure$/);
  assert.ok(!res.headers.getSetCookie().some((c) => c.startsWith('gh_csrf=')));
  // The unprefixed name (which a sibling site could set) is not the CSRF cookie here.
  const planted = new TestBrowser();
  planted.jar.set('gh_csrf', b.jar.get('__Host-gh_csrf')!);
  const refused = await planted.post(`${base}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: 'alice', password: 'secret' });
  assert.equal(refused.status, 403);
  const login = await b.post(`${base}/oauth2/authorize/login`, { request: field(page, 'request'), csrf: field(page, 'csrf'), username: 'alice', password: 'secret' });
  assert.equal(login.status, 303);
  assert.ok(login.headers.getSetCookie().some((c) => c.startsWith('__Host-gh_csrf=') && c.endsWith('; Secure')), 'rotated under the same name');
});
