/**
 * The authorization pages in a real browser: Debian's Chromium, driven by playwright-core,
 * signs in (after a wrong password), consents, and lands on a loopback redirect URI served by
 * this test; Deny lands there with access_denied; the login form works from the keyboard and
 * without JavaScript. Screenshots of the pages go to test-output/screenshots/.
 *
 * Chromium is required: when it cannot be launched the tests fail with the reason.
 */
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launch, newPage, SCREENSHOTS } from '../helpers/chromium.js';
import { basic, pkce, register, startOAuth, token } from '../helpers/oauth.js';

const SCOPE = 'xmpp offline_access';

/** The client's side: a loopback HTTP server (RFC 8252 §7.3) that records where it was sent. */
async function startClientApp(t: TestContext): Promise<{ redirectUri: string; hits: URL[] }> {
  const hits: URL[] = [];
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    if (url.pathname !== '/cb') {
      res.writeHead(404).end(); // the browser also asks for /favicon.ico
      return;
    }
    hits.push(url);
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end('<!DOCTYPE html><title>Test Chat</title><h1>Back in Test Chat</h1>');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  t.after(() => new Promise<void>((resolve) => server.close(() => resolve())));
  server.unref();
  return { redirectUri: `http://127.0.0.1:${(server.address() as AddressInfo).port}/cb`, hits };
}

/** The few members of the browser's window the tests read inside the page. */
interface Window {
  getComputedStyle(element: unknown): { outlineStyle: string; outlineWidth: string };
}

interface Setup {
  issuer: string;
  browser: Browser;
  app: { redirectUri: string; hits: URL[] };
  client: { id: string; secret: string };
}

async function setup(t: TestContext): Promise<Setup> {
  const browser = await launch(t);
  const server = await startOAuth(t);
  const issuer = server.issuer();
  const app = await startClientApp(t);
  const reg = await register(issuer, {
    application_type: 'native',
    token_endpoint_auth_method: 'client_secret_basic',
    redirect_uris: [app.redirectUri],
  });
  assert.equal(reg.status, 201, JSON.stringify(reg));
  return { issuer, browser, app, client: { id: reg.client_id!, secret: reg.client_secret! } };
}

function authorizeUrl(s: Setup, challenge: string, state: string): string {
  const q = new URLSearchParams({
    response_type: 'code',
    client_id: s.client.id,
    redirect_uri: s.app.redirectUri,
    scope: SCOPE,
    state,
    code_challenge: challenge,
    code_challenge_method: 'S256',
  });
  return `${s.issuer}/oauth2/authorize?${q}`;
}

async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, name);
  await page.screenshot({ path, fullPage: true });
  assert.ok(statSync(path).size > 0, `${path} is empty`);
  return path;
}

/** Sign in with the right password and wait for the consent page. */
async function signIn(page: Page, password = 'secret'): Promise<void> {
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('heading', { level: 1, name: 'Allow access?' }).waitFor();
}

/** Wait until the browser is on the client's redirect URI; returns the URL it landed on. */
async function landed(page: Page, s: Setup): Promise<URL> {
  await page.waitForURL((u) => u.href.startsWith(`${s.app.redirectUri}?`));
  await page.getByRole('heading', { name: 'Back in Test Chat' }).waitFor();
  const url = new URL(page.url());
  assert.equal(`${url.origin}${url.pathname}`, s.app.redirectUri);
  const hit = s.app.hits.at(-1);
  assert.ok(hit !== undefined, 'the client app received no request');
  assert.equal(hit.search, url.search, 'the client app received the query the browser shows');
  return url;
}

test('Chromium signs in after a wrong password, consents, lands on the redirect URI; the code works', { timeout: 120_000 }, async (t) => {
  const s = await setup(t);
  const page = await newPage(s.browser);
  const { verifier, challenge } = pkce();
  const response = await page.goto(authorizeUrl(s, challenge, 'st-allow'));
  assert.equal(response?.status(), 200);

  // The login page: one h1, labels bound to their inputs, the client named.
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  const username = page.getByLabel('Username');
  const password = page.getByLabel('Password');
  assert.equal(await username.getAttribute('id'), 'username');
  assert.equal(await username.getAttribute('autocomplete'), 'username');
  assert.equal(await password.getAttribute('type'), 'password');
  assert.equal(await password.getAttribute('autocomplete'), 'current-password');
  assert.match((await page.locator('main').textContent()) ?? '', /Test Chat \(unverified\) wants to use your account on localhost\./);
  assert.equal(await page.getByRole('alert').count(), 0, 'no error before a try');
  await screenshot(page, 'login.png');

  // Keyboard: Tab from the username reaches the password, then the button, with a focus ring.
  await username.focus();
  await page.keyboard.press('Tab');
  assert.equal(await page.locator(':focus').getAttribute('id'), 'password');
  await page.keyboard.press('Tab');
  const focused = page.locator(':focus');
  assert.equal(await focused.textContent(), 'Sign in');
  assert.equal(await focused.getAttribute('type'), 'submit');
  const ring = await focused.evaluate((el) => {
    const { outlineStyle, outlineWidth } = (globalThis as unknown as Window).getComputedStyle(el);
    return { outlineStyle, outlineWidth };
  });
  assert.deepEqual(ring, { outlineStyle: 'solid', outlineWidth: '3px' }, 'a visible focus ring');

  // A wrong password: the error is announced, the username kept, the password not.
  await username.fill('alice');
  await password.fill('not-the-password');
  await page.getByRole('button', { name: 'Sign in' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.equal((await alert.textContent())?.trim(), 'Wrong username or password.');
  assert.equal(await page.getByLabel('Username').inputValue(), 'alice');
  assert.equal(await page.getByLabel('Password').inputValue(), '');
  await screenshot(page, 'login-error.png');

  // The right password: the consent page names the client, its URI, the scopes and the account.
  // A loopback redirect proves nothing about the name and URI the client registered (RFC 8252
  // §8.6): they are labelled unverified, and the claimed site is not a link.
  await signIn(page);
  const main = (await page.locator('main').textContent()) ?? '';
  assert.match(main, /Test Chat \(unverified: this name and the address https:\/\/app\.example\.net\/ were given by whoever registered the application, and nothing proves they belong to it\) asks to access your account alice@localhost\./);
  assert.equal(await page.getByRole('link', { name: 'https://app.example.net/' }).count(), 0);
  assert.deepEqual(await page.locator('ul.scopes > li').allTextContents(), [
    'Use your chat account fully: read and send messages, manage contacts (xmpp)',
    'Stay signed in when you are not using it (offline_access)',
  ]);
  assert.match(main, /Signed in as alice@localhost\./);
  await page.getByRole('button', { name: 'Deny' }).waitFor();
  await screenshot(page, 'consent.png');

  await page.getByRole('button', { name: 'Allow' }).click();
  const back = await landed(page, s);
  assert.equal(back.searchParams.get('state'), 'st-allow');
  assert.equal(back.searchParams.get('iss'), s.issuer);
  assert.equal(back.searchParams.get('error'), null);
  const code = back.searchParams.get('code');
  assert.ok(code !== null && code.length > 0, 'a code');

  const exchanged = await token(
    s.issuer,
    { grant_type: 'authorization_code', code, redirect_uri: s.app.redirectUri, code_verifier: verifier },
    basic(s.client.id, s.client.secret),
  );
  assert.equal(exchanged.status, 200, JSON.stringify(exchanged.body));
  assert.equal(exchanged.body['token_type'], 'Bearer');
  assert.equal(exchanged.body['scope'], SCOPE);
  assert.equal(typeof exchanged.body['access_token'], 'string');

  for (const name of ['login.png', 'login-error.png', 'consent.png']) {
    assert.ok(statSync(join(SCREENSHOTS, name)).size > 0, `${name} saved`);
  }
});

test('Chromium: Deny lands on the redirect URI with error=access_denied', { timeout: 120_000 }, async (t) => {
  const s = await setup(t);
  const page = await newPage(s.browser);
  await page.goto(authorizeUrl(s, pkce().challenge, 'st-deny'));
  await signIn(page, 'pw-alice');
  await page.getByRole('button', { name: 'Deny' }).click();
  const back = await landed(page, s);
  assert.equal(back.searchParams.get('error'), 'access_denied');
  assert.equal(back.searchParams.get('state'), 'st-deny');
  assert.equal(back.searchParams.get('iss'), s.issuer);
  assert.equal(back.searchParams.get('code'), null);
});

test('Chromium with JavaScript disabled completes a login and consent', { timeout: 120_000 }, async (t) => {
  const s = await setup(t);
  const page = await newPage(s.browser, { javaScriptEnabled: false });
  await page.goto(authorizeUrl(s, pkce().challenge, 'st-nojs'));
  await signIn(page);
  await page.getByRole('button', { name: 'Allow' }).click();
  const back = await landed(page, s);
  assert.equal(back.searchParams.get('state'), 'st-nojs');
  assert.equal(back.searchParams.get('iss'), s.issuer);
  assert.ok((back.searchParams.get('code') ?? '').length > 0);
});
