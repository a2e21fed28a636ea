/**
 * The account page in a real browser: Debian's Chromium, driven by playwright-core, signs in
 * on the page's own form (after a wrong password), sees the applications holding grants,
 * revokes one, changes the password (after a wrong current one), signs out and signs in with
 * the new password; a second run does it with JavaScript disabled. The auth script keeps its
 * accounts in a file (test/fixtures/users-file.mjs), so the new password really is the one
 * that works afterwards. Screenshots go to test-output/screenshots/account-*.png.
 *
 * Chromium is required: when it cannot be launched the tests fail with the reason.
 */
import assert from 'node:assert/strict';
import { mkdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import type { Page } from 'playwright-core';
import { launch, newPage, SCREENSHOTS } from '../helpers/chromium.js';
import { introspect } from '../helpers/oauth.js';
import { grantTokens, startWithUsers } from '../helpers/oauth-account.js';

// The launch options of oauth-pages.test.ts.

async function screenshot(page: Page, name: string): Promise<void> {
  mkdirSync(SCREENSHOTS, { recursive: true });
  const path = join(SCREENSHOTS, name);
  await page.screenshot({ path, fullPage: true });
  assert.ok(statSync(path).size > 0, `${path} is empty`);
}

/** The id of the focused element. */
async function focusedId(page: Page): Promise<string | null> {
  return page.locator(':focus').getAttribute('id');
}

async function signIn(page: Page, password: string): Promise<void> {
  await page.getByLabel('Username').fill('alice');
  await page.getByLabel('Password').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
}

test('Chromium: sign in on the account page, see the grants, revoke one, change the password, sign out', { timeout: 120_000 }, async (t) => {
  const browser = await launch(t);
  const s = await startWithUsers(t, { localhost: { alice: 'old-pass' } });
  const issuer = s.issuer();
  const first = await grantTokens(issuer, { password: 'old-pass', clientName: 'Test Chat' });
  const second = await grantTokens(issuer, { password: 'old-pass', clientName: 'Second Chat' });
  const page = await newPage(browser);

  // The sign-in form: one h1, labels bound to inputs, the focus in the username.
  const response = await page.goto(`${issuer}/account`);
  assert.equal(response?.status(), 200);
  await page.getByRole('heading', { level: 1, name: 'Sign in to your account' }).waitFor();
  assert.equal(await page.locator('h1').count(), 1);
  assert.equal(await page.getByLabel('Username').getAttribute('autocomplete'), 'username');
  assert.equal(await page.getByLabel('Password').getAttribute('type'), 'password');
  assert.equal(await focusedId(page), 'username');
  await screenshot(page, 'account-login.png');

  // A wrong password: announced, the username kept, the focus on the password.
  await signIn(page, 'nope');
  const alert = page.getByRole('alert');
  await alert.waitFor();
  assert.equal((await alert.textContent())?.trim(), 'Wrong username or password.');
  assert.equal(await page.getByLabel('Username').inputValue(), 'alice');
  assert.equal(await focusedId(page), 'password');

  // Signed in: the applications, in words.
  await signIn(page, 'old-pass');
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();
  assert.equal(new URL(page.url()).pathname, '/localhost/account', '303 to the account page');
  const main = (await page.locator('main').textContent()) ?? '';
  assert.match(main, /Signed in as alice@localhost\./);
  const apps = page.getByRole('list', { name: 'Applications with access' });
  const items = apps.locator(':scope > li');
  assert.equal(await items.count(), 2);
  const testChat = items.filter({ has: page.getByRole('heading', { level: 3, name: 'Test Chat' }) });
  const text = (await testChat.textContent()) ?? '';
  assert.match(text, /https:\/\/app\.example\.net\//);
  assert.match(text, /Use your chat account fully: read and send messages, manage contacts/);
  assert.match(text, /Stay signed in when you are not using it/);
  assert.match(text, /Allowed just now; last used just now\./);
  assert.equal(await testChat.getByRole('link').getAttribute('href'), 'https://app.example.net/');
  await screenshot(page, 'account.png');

  // Revoke Test Chat: the confirmation, the list shorter, its token dead, the other alive.
  await page.getByRole('button', { name: 'Revoke access for Test Chat' }).click();
  const status = page.getByRole('status');
  await status.waitFor();
  assert.equal((await status.textContent())?.trim(), 'Test Chat can no longer use your account.');
  assert.equal(await items.count(), 1);
  assert.equal(await page.getByRole('button', { name: 'Revoke access for Test Chat' }).count(), 0);
  assert.equal((await introspect(issuer, first.access, first.auth))['active'], false);
  assert.equal((await introspect(issuer, second.access, second.auth))['active'], true);
  await screenshot(page, 'account-revoked.png');

  // A wrong current password: announced, the focus on that field.
  await page.getByLabel('Current password').fill('not-it');
  await page.getByLabel('New password', { exact: true }).fill('brand new pass');
  await page.getByLabel('New password again').fill('brand new pass');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('alert').waitFor();
  assert.equal((await page.getByRole('alert').textContent())?.trim(), 'Your current password is wrong.');
  assert.equal(await focusedId(page), 'current-password');
  assert.equal(await page.getByLabel('Current password').getAttribute('aria-invalid'), 'true');
  await screenshot(page, 'account-password-error.png');

  // The right one: changed, every application signed out, still signed in here.
  await page.getByLabel('Current password').fill('old-pass');
  await page.getByLabel('New password', { exact: true }).fill('brand new pass');
  await page.getByLabel('New password again').fill('brand new pass');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByRole('status').waitFor();
  assert.match((await page.getByRole('status').textContent()) ?? '', /^Your password was changed\. Every application was signed out/);
  assert.match((await page.locator('main').textContent()) ?? '', /No application can use your account\./);
  assert.equal((await introspect(issuer, second.access, second.auth))['active'], false);
  assert.deepEqual(s.users(), { localhost: { alice: 'brand new pass' } });
  await screenshot(page, 'account-password-changed.png');

  // Sign out, then in again with the new password.
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByRole('heading', { level: 1, name: 'Sign in to your account' }).waitFor();
  assert.equal((await page.getByRole('status').textContent())?.trim(), 'You are signed out.');
  const cookies = await page.context().cookies();
  assert.ok(!cookies.some((c) => c.name === 'gh_session'), 'the session cookie is gone');
  await screenshot(page, 'account-signed-out.png');
  await signIn(page, 'old-pass');
  await page.getByRole('alert').waitFor();
  await signIn(page, 'brand new pass');
  await page.getByRole('heading', { level: 1, name: 'Your account' }).waitFor();

  for (const name of ['account-login.png', 'account.png', 'account-revoked.png', 'account-password-error.png', 'account-password-changed.png', 'account-signed-out.png']) {
    assert.ok(statSync(join(SCREENSHOTS, name)).size > 0, `${name} saved`);
  }
});

test('Chromium with JavaScript disabled: sign in, revoke, change the password, sign out', { timeout: 120_000 }, async (t) => {
  const browser = await launch(t);
  const s = await startWithUsers(t, { localhost: { alice: 'old-pass' } });
  const issuer = s.issuer();
  const tokens = await grantTokens(issuer, { password: 'old-pass', clientName: 'Test Chat' });
  const page = await newPage(browser, { javaScriptEnabled: false });
  await page.goto(`${issuer}/account`);
  await signIn(page, 'old-pass');
  await page.getByRole('button', { name: 'Revoke access for Test Chat' }).click();
  await page.getByRole('status').waitFor();
  assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], false);
  await page.getByLabel('Current password').fill('old-pass');
  await page.getByLabel('New password', { exact: true }).fill('another one');
  await page.getByLabel('New password again').fill('another one');
  await page.getByRole('button', { name: 'Change password' }).click();
  await page.getByText('Your password was changed.').waitFor();
  assert.deepEqual(s.users(), { localhost: { alice: 'another one' } });
  await page.getByRole('button', { name: 'Sign out' }).click();
  await page.getByText('You are signed out.').waitFor();
});
