/**
 * The device pages (RFC 8628 §3.3) in a real browser: Debian's Chromium, driven by
 * playwright-core, enters a user code (after a wrong one), signs in, compares the code on the
 * consent page and allows; the device's poll then gets tokens. Also: the
 * verification_uri_complete link without JavaScript ending in Deny, and the brute-force
 * lockout message. Screenshots go to test-output/screenshots/device-*.png.
 *
 * Chromium is required: when it cannot be launched the tests fail with the reason.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { launch, newPage, SCREENSHOTS } from '../helpers/chromium.js';
import { poll, registerDevice, started, startDeviceServer } from '../helpers/oauth-device.js';


async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, name);
  await page.screenshot({ path, fullPage: true });
  assert.ok(statSync(path).size > 0, `${path} is empty`);
  return path;
}

function assertSaved(...names: string[]): void {
  for (const name of names) {
    const path = join(SCREENSHOTS, name);
    assert.ok(existsSync(path), `${name} saved`);
    assert.ok(statSync(path).size > 0, `${name} not empty`);
  }
}

const heading = (page: Page, name: string) => page.getByRole('heading', { level: 1, name }).waitFor();

/** Sign in on the shared login page and wait for the consent page. */
async function signIn(page: Page): Promise<void> {
  await heading(page, 'Sign in');
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('secret');
  await page.getByRole('button', { name: 'Sign in' }).click();
  await heading(page, 'Allow access?');
}

test('Chromium enters a code (after a wrong one), signs in, allows; the device gets tokens', { timeout: 120_000 }, async (t) => {
  const browser = await launch(t);
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  const page = await newPage(browser);

  const response = await page.goto(d.verification_uri);
  assert.equal(response?.status(), 200);
  await heading(page, 'Connect a device');
  const code = page.getByLabel('Code');
  assert.equal(await code.getAttribute('id'), 'user_code');
  assert.equal(await code.getAttribute('aria-describedby'), 'user-code-hint');
  assert.equal(await page.getByRole('alert').count(), 0, 'no error before a try');
  await screenshot(page, 'device-code.png');

  // A wrong code: announced, and the field points at the error.
  await code.fill(d.user_code.startsWith('B') ? 'CCCC-CCCC' : 'BBBB-BBBB');
  await page.getByRole('button', { name: 'Continue' }).click();
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.equal((await alert.textContent())?.trim(), 'That code is not valid. Check the code on your device and try again.');
  assert.equal(await page.getByLabel('Code').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'device-code-error.png');

  // The right code, typed in lower case without the dash.
  await page.getByLabel('Code').fill(d.user_code.replace('-', '').toLowerCase());
  await page.getByRole('button', { name: 'Continue' }).click();
  assert.match((await page.locator('main').textContent()) ?? '', /Test TV \(unverified\) wants to use your account on localhost\./);
  await screenshot(page, 'device-login.png');
  await signIn(page);

  const main = (await page.locator('main').textContent()) ?? '';
  assert.match(main, /Test TV \(unverified: this name and the address https:\/\/tv\.example\.net\/ were given by whoever registered the application, and nothing proves they belong to it\) asks to access your account alice@localhost from a device\./);
  assert.equal(await page.locator('#user-code').textContent(), d.user_code, 'the code to compare with the device');
  assert.deepEqual(await page.locator('ul.scopes > li').allTextContents(), [
    'Use your chat account fully: read and send messages, manage contacts (xmpp)',
    'Stay signed in when you are not using it (offline_access)',
  ]);
  await screenshot(page, 'device-consent.png');

  await page.getByRole('button', { name: 'Allow' }).click();
  await heading(page, 'Device connected');
  assert.equal(new URL(page.url()).pathname, '/localhost/oauth2/device/done');
  assert.equal((await page.getByRole('status').textContent())?.trim(), 'Test TV can now use your account alice@localhost. You can go back to your device.');
  await screenshot(page, 'device-done.png');

  const tokens = await poll(s.issuer, client, d.device_code);
  assert.equal(tokens.status, 200, JSON.stringify(tokens.body));
  assert.equal(tokens.body['scope'], 'xmpp offline_access');
  assertSaved('device-code.png', 'device-code-error.png', 'device-login.png', 'device-consent.png', 'device-done.png');
});

test('Chromium without JavaScript: the verification_uri_complete link, keyboard only, Deny', { timeout: 120_000 }, async (t) => {
  const browser = await launch(t);
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client, 'xmpp');
  const page = await newPage(browser, { javaScriptEnabled: false });

  await page.goto(d.verification_uri_complete);
  await heading(page, 'Connect a device');
  assert.equal(await page.getByLabel('Code').inputValue(), d.user_code, 'pre-filled, still to be confirmed');
  await page.getByLabel('Code').focus();
  await page.keyboard.press('Enter');
  await heading(page, 'Sign in');
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill('secret');
  await page.keyboard.press('Enter');
  await heading(page, 'Allow access?');
  await page.getByRole('button', { name: 'Deny' }).click();
  await heading(page, 'Access denied');
  assert.equal((await page.getByRole('status').textContent())?.trim(), 'Test TV was not given access to your account. You can close this page.');
  await screenshot(page, 'device-denied.png');

  const res = await poll(s.issuer, client, d.device_code);
  assert.equal(res.body['error'], 'access_denied');
  assertSaved('device-denied.png');
});

test('Chromium: after 10 wrong codes the page says to wait, even for the right code', { timeout: 120_000 }, async (t) => {
  const browser = await launch(t);
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  const page = await newPage(browser);
  await page.goto(`${s.issuer}/oauth2/device/verify`);
  const wrong = d.user_code.startsWith('B') ? 'CCCC-CCCC' : 'BBBB-BBBB';
  for (let i = 0; i < 10; i++) {
    await page.getByLabel('Code').fill(wrong);
    await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Continue' }).click()]);
  }
  const locked = 'Too many wrong codes were entered from your network. Wait 10 minutes, then try again.';
  assert.equal((await page.getByRole('alert').textContent())?.trim(), locked);
  await page.getByLabel('Code').fill(d.user_code);
  const [response] = await Promise.all([page.waitForNavigation(), page.getByRole('button', { name: 'Continue' }).click()]);
  assert.equal(response?.status(), 429);
  await heading(page, 'Connect a device');
  assert.equal((await page.getByRole('alert').textContent())?.trim(), locked);
  await screenshot(page, 'device-locked.png');
  assertSaved('device-locked.png');
});
