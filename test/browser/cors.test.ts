/**
 * Cross-origin calls as a web client makes them: a page served from another origin (another
 * loopback port), in Debian's Chromium, calls discovery, JWKS, registration (a JSON POST, so a
 * preflight), the token endpoint with Basic credentials (a preflight too) and userinfo with a
 * bearer token. The browser itself decides whether the page may read each answer. The
 * cookie-based pages and introspection must stay closed to other origins.
 */
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { launch, newPage } from '../helpers/chromium.js';
import { REDIRECT, startOAuth } from '../helpers/oauth.js';

test('a page on another origin can use the public endpoints, and not the pages or introspection', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  // The web client's own origin: a page with nothing on it but our script.
  const app = createServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>web client</title>'));
  await new Promise<void>((r) => app.listen(0, '127.0.0.1', r));
  t.after(() => app.close());
  const appOrigin = `http://127.0.0.1:${(app.address() as AddressInfo).port}`;
  assert.notEqual(appOrigin, s.origin);

  const browser = await launch(t);
  const page = await newPage(browser);
  await page.goto(`${appOrigin}/`);
  const results = await page.evaluate(
    async ({ issuer, redirect }) => {
      /** What the page can see: status and body, or that the browser refused it. */
      const call = async (url: string, init?: RequestInit): Promise<{ status: number; body: string } | 'blocked'> => {
        try {
          const res = await fetch(url, init);
          return { status: res.status, body: await res.text() };
        } catch {
          return 'blocked';
        }
      };
      const discovery = await call(`${issuer}/.well-known/openid-configuration`);
      const jwks = await call(`${issuer}/oauth2/jwks`);
      const registration = await call(`${issuer}/oauth2/register`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ client_name: 'Web Chat', client_uri: 'https://app.example.net/', redirect_uris: [redirect], scope: 'xmpp' }),
      });
      const client = registration === 'blocked' ? null : (JSON.parse(registration.body) as { client_id: string; client_secret: string });
      const basic = client === null ? '' : `Basic ${btoa(`${encodeURIComponent(client.client_id)}:${encodeURIComponent(client.client_secret)}`)}`;
      const form = { 'content-type': 'application/x-www-form-urlencoded', authorization: basic };
      const tokenCall = await call(`${issuer}/oauth2/token`, { method: 'POST', headers: form, body: 'grant_type=authorization_code&code=nope&redirect_uri=x&code_verifier=y' });
      const userinfo = await call(`${issuer}/oauth2/userinfo`, { headers: { authorization: 'Bearer not-a-token' } });
      const introspection = await call(`${issuer}/oauth2/introspect`, { method: 'POST', headers: form, body: 'token=x' });
      const authorizePage = await call(`${issuer}/oauth2/authorize?response_type=code`);
      return { discovery, jwks, registration, tokenCall, userinfo, introspection, authorizePage };
    },
    { issuer, redirect: REDIRECT },
  );

  const ok = (r: (typeof results)[keyof typeof results]): { status: number; body: string } => {
    assert.notEqual(r, 'blocked');
    return r as { status: number; body: string };
  };
  assert.equal(JSON.parse(ok(results.discovery).body).issuer, issuer);
  assert.ok(Array.isArray(JSON.parse(ok(results.jwks).body).keys));
  assert.equal(ok(results.registration).status, 201);
  // Errors are readable too: the client can tell the user what went wrong.
  assert.equal(ok(results.tokenCall).status, 400);
  assert.equal(JSON.parse(ok(results.tokenCall).body).error, 'invalid_grant');
  assert.equal(ok(results.userinfo).status, 401);
  // Resource servers introspect, browsers do not; the pages work with cookies, never cross-origin.
  assert.equal(results.introspection, 'blocked');
  assert.equal(results.authorizePage, 'blocked');
});

test('preflight answers: methods and headers allowed, never credentials; none for the pages', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const preflight = (path: string, method: string) =>
    fetch(`${issuer}${path}`, {
      method: 'OPTIONS',
      headers: { origin: 'https://web.example', 'access-control-request-method': method, 'access-control-request-headers': 'authorization, content-type' },
    });
  const res = await preflight('/oauth2/token', 'POST');
  assert.equal(res.status, 204);
  assert.equal(res.headers.get('access-control-allow-origin'), '*');
  assert.match(res.headers.get('access-control-allow-methods')!, /\bPOST\b/);
  assert.match(res.headers.get('access-control-allow-headers')!, /\bauthorization\b/);
  assert.equal(res.headers.get('access-control-allow-credentials'), null);
  for (const path of ['/oauth2/authorize/login', '/oauth2/introspect', '/oauth2/account']) {
    const r = await preflight(path, 'POST');
    assert.equal(r.headers.get('access-control-allow-origin'), null, path);
  }
  const page = await fetch(`${issuer}/oauth2/authorize`, { headers: { origin: 'https://web.example' } });
  assert.equal(page.headers.get('access-control-allow-origin'), null);
  // The metadata at the root location (RFC 8414 §3.1) is open like the one under the issuer.
  const root = await fetch(`${s.origin}/.well-known/oauth-authorization-server/localhost`);
  assert.equal(root.headers.get('access-control-allow-origin'), '*');
});
