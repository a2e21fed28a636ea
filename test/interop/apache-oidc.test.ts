/**
 * Web apps through a real relying party: Debian's Apache 2.4 with mod_auth_openidc 2.4.12
 * protects /protected/ of a private Apache on loopback; Gatehouse (issuer
 * http://127.0.0.1:PORT/localhost) is its OpenID Provider. Chromium signs in on Gatehouse's
 * page and lands on the app, which shows the claims Apache passes it. Two ways: a client the
 * test registered (static), and mod_auth_openidc registering itself (OIDCMetadataDir). Then
 * RP-initiated logout through Gatehouse's end_session_endpoint, and the refusals: a wrong
 * password and Deny keep the user out.
 */
import assert from 'node:assert/strict';
import { test, type TestContext } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { launch, newPage } from '../helpers/chromium.js';
import { onFreePort, register, startOAuth } from '../helpers/oauth.js';
import { metadataName, startApache, type Apache } from './apache.js';

const CLAIMS = 'OIDCScope "openid profile"\nOIDCPKCEMethod S256\nOIDCRemoteUserClaim preferred_username';

async function gatehouseAndBrowser(t: TestContext): Promise<{ issuer: string; browser: Browser }> {
  const browser = await launch(t);
  const server = await startOAuth(t);
  return { issuer: server.issuer(), browser };
}

async function apache(t: TestContext, options: Parameters<typeof startApache>[0]): Promise<Apache> {
  const a = await startApache(options);
  // GATEHOUSE_KEEP_APACHE=1 keeps its dir, with error.log (mod_auth_openidc at debug level).
  t.after(() => a.stop());
  return a;
}

/** Static client: registered by the test, configured in Apache. */
async function staticSetup(t: TestContext): Promise<{ issuer: string; browser: Browser; rp: Apache }> {
  const { issuer, browser } = await gatehouseAndBrowser(t);
  // The client is registered for Apache's address, so its port is chosen first.
  const rp = await onFreePort(async (port) => {
    const origin = `http://127.0.0.1:${port}`;
    const reg = await register(issuer, {
      client_name: 'Apache app',
      client_uri: undefined,
      redirect_uris: [`${origin}/protected/redirect_uri`],
      post_logout_redirect_uris: [`${origin}/loggedout.html`],
      grant_types: ['authorization_code'],
      scope: 'openid profile',
    });
    assert.equal(reg.status, 201, JSON.stringify(reg));
    return apache(t, {
      port,
      oidc: `OIDCProviderMetadataURL ${issuer}/.well-known/openid-configuration
OIDCClientID ${reg.client_id}
OIDCClientSecret ${reg.client_secret}
${CLAIMS}`,
    });
  });
  return { issuer, browser, rp };
}

/** On Gatehouse's login page: sign in as alice with `password`. */
async function signIn(page: Page, password: string): Promise<void> {
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

/** From Gatehouse's login page to the app: sign in, allow, read the app's page. */
async function signInToApp(page: Page, rp: Apache): Promise<string> {
  await signIn(page, 'secret');
  await page.getByRole('heading', { level: 1, name: 'Allow access?' }).waitFor();
  await page.getByRole('button', { name: 'Allow' }).click();
  await page.waitForURL((u) => u.origin === rp.origin && u.pathname === '/protected/');
  return (await page.locator('body').textContent()) ?? '';
}

function assertAppSawAlice(body: string): void {
  assert.match(body, /^Hello alice$/m, body);
  assert.match(body, /^REMOTE_USER=alice$/m, 'OIDCRemoteUserClaim preferred_username');
  assert.match(body, /^OIDC_CLAIM_sub=alice@localhost$/m, body);
  assert.match(body, /^OIDC_CLAIM_jid=alice@localhost$/m, body);
}

test('static client: sign in through Apache, the app shows the claims; RP-initiated logout ends the Gatehouse session', async (t) => {
  const { issuer, browser, rp } = await staticSetup(t);
  const page = await newPage(browser);
  await page.goto(`${rp.origin}/protected/`);
  await page.waitForURL((u) => u.href.startsWith(`${issuer}/oauth2/authorize`));
  assertAppSawAlice(await signInToApp(page, rp));

  // Logout: mod_auth_openidc ends its session and sends the browser to Gatehouse's
  // end_session_endpoint with the id_token as hint; Gatehouse ends its session and follows the
  // registered post_logout_redirect_uri.
  const loggedOut = `${rp.origin}/loggedout.html`;
  await page.goto(`${rp.redirectUri}?logout=${encodeURIComponent(loggedOut)}`);
  await page.waitForURL(loggedOut);
  await page.getByRole('heading', { name: 'You are signed out of the app' }).waitFor();

  // Both sessions are gone: /protected/ goes to Gatehouse, which asks for the password again.
  await page.goto(`${rp.origin}/protected/`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
  assert.ok(page.url().startsWith(`${issuer}/oauth2/authorize`), page.url());
});

test('static client: a wrong password keeps the user out; Deny keeps the user out', async (t) => {
  const { issuer, browser, rp } = await staticSetup(t);
  const page = await newPage(browser);
  await page.goto(`${rp.origin}/protected/`);
  await signIn(page, 'not-the-password');
  await page.getByRole('alert').waitFor();
  assert.ok(page.url().startsWith(issuer), `still on Gatehouse: ${page.url()}`);

  // The app is still closed to this browser.
  const app = await newPage(browser, { storageState: await page.context().storageState() });
  const res = await app.goto(`${rp.origin}/protected/`);
  assert.ok(res !== null);
  await app.waitForURL((u) => u.href.startsWith(`${issuer}/oauth2/authorize`));
  assert.doesNotMatch((await app.locator('body').textContent()) ?? '', /Hello alice/);

  // Deny: Gatehouse redirects back with error=access_denied (and iss, RFC 9207); whatever
  // mod_auth_openidc makes of it, the protected page is not shown.
  await signIn(page, 'secret');
  await page.getByRole('button', { name: 'Deny' }).click();
  await page.waitForURL((u) => u.origin === rp.origin);
  const url = new URL(page.url());
  assert.equal(url.pathname, '/protected/redirect_uri');
  assert.equal(url.searchParams.get('error'), 'access_denied');
  assert.equal(url.searchParams.get('iss'), issuer);
  const body = (await page.locator('body').textContent()) ?? '';
  t.diagnostic(`mod_auth_openidc on Deny: ${body.replace(/\s+/g, ' ').trim().slice(0, 300)}`);
  assert.doesNotMatch(body, /Hello alice/);
  await page.goto(`${rp.origin}/protected/`);
  await page.waitForURL((u) => u.origin !== rp.origin);
  assert.ok(page.url().startsWith(`${issuer}/oauth2/authorize`), page.url());
});

test('dynamic registration: mod_auth_openidc registers itself at Gatehouse, then signs in', async (t) => {
  const { issuer, browser } = await gatehouseAndBrowser(t);
  const discovery = await (await fetch(`${issuer}/.well-known/openid-configuration`)).text();
  const name = metadataName(issuer);
  const rp = await onFreePort((port) =>
    apache(t, {
      port,
      oidc: `OIDCMetadataDir {metadataDir}\n${CLAIMS}`,
      metadata: {
        [`${name}.provider`]: discovery,
        // Registration extras: where the logout may return (Gatehouse redirects there only if registered).
        [`${name}.conf`]: JSON.stringify({
          client_name: 'Apache app (dynamic)',
          // A JSON object in a string, merged into the registration request.
          registration_endpoint_json: JSON.stringify({ post_logout_redirect_uris: [`http://127.0.0.1:${port}/loggedout.html`] }),
        }),
      },
    }),
  );
  const origin = rp.origin;
  const page = await newPage(browser);
  // Third-party-initiated login (OpenID Connect Core §4): the issuer picks the provider.
  await page.goto(`${rp.redirectUri}?iss=${encodeURIComponent(issuer)}&target_link_uri=${encodeURIComponent(`${origin}/protected/`)}`);
  await page.waitForURL((u) => u.href.startsWith(`${issuer}/oauth2/authorize`));
  const client = JSON.parse(rp.metadataFile(`${name}.client`) ?? 'null') as Record<string, unknown> | null;
  assert.ok(client !== null, 'mod_auth_openidc wrote the client it registered');
  assert.deepEqual(client.response_types, ['code'], 'only code was registered');
  assert.deepEqual(client.grant_types, ['authorization_code', 'refresh_token']);
  assert.equal(client.application_type, 'native');
  assert.ok(!('client_uri' in client));
  assert.deepEqual(client.post_logout_redirect_uris, [`${origin}/loggedout.html`]);
  // Nothing proves who registered it: the sign-in page says so.
  await page.getByText('Apache app (dynamic) (unverified)').waitFor();
  assertAppSawAlice(await signInToApp(page, rp));

  const loggedOut = `${origin}/loggedout.html`;
  await page.goto(`${rp.redirectUri}?logout=${encodeURIComponent(loggedOut)}`);
  await page.waitForURL(loggedOut);
  await page.goto(`${rp.redirectUri}?iss=${encodeURIComponent(issuer)}&target_link_uri=${encodeURIComponent(`${origin}/protected/`)}`);
  await page.getByRole('heading', { level: 1, name: 'Sign in' }).waitFor();
});
