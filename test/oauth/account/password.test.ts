/**
 * Password change on the account page over real HTTP: the current password checked with
 * `auth` first, then `setpass`; on success every grant of the user revoked (their tokens stop
 * working), every other browser's session ended, and this browser's session cookie replaced. Refusals: wrong current password, new passwords
 * empty or different, a line break in the new one (never sent to the script), a script that
 * cannot set passwords, throttling.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { field, TestBrowser } from '../../helpers/browser.js';
import { introspect, pkce, REDIRECT, register, startOAuth, token } from '../../helpers/oauth.js';
import { fixture } from '../../helpers/paths.js';
import { grantIds, grantTokens, signIn, startWithUsers } from '../../helpers/oauth-account.js';
import { recordQueries } from '../../helpers/record.js';

const USERS = { localhost: { alice: 'old-pass', bob: 'bobs-pass' } };

function change(b: TestBrowser, issuer: string, page: string, current: string, next: string, confirm = next): Promise<Response> {
  return b.post(`${issuer}/account/password`, { csrf: field(page, 'csrf'), current_password: current, new_password: next, confirm_password: confirm });
}

test('a password change revokes every grant of the user, old tokens stop working, the session is replaced, the new password works', async (t) => {
  const s = await startWithUsers(t, USERS);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const one = await grantTokens(issuer, { browser: b, password: 'old-pass', clientName: 'Test Chat' });
  const two = await grantTokens(issuer, { browser: b, password: 'old-pass', clientName: 'Second Chat' });
  const bobs = await grantTokens(issuer, { user: 'bob', password: 'bobs-pass', clientName: 'Bob Chat' });
  let page = await (await b.get(`${issuer}/account`)).text();
  assert.equal(grantIds(page).length, 2);
  assert.match(page, /<label for="current-password">Current password<\/label>/);
  assert.match(page, /<label for="new-password">New password<\/label>/);
  assert.match(page, /<label for="confirm-password">New password again<\/label>/);
  assert.match(page, /id="new-password"[^>]*aria-describedby="password-help"/);

  const res = await change(b, issuer, page, 'old-pass', 'new: pass with colon');
  assert.equal(res.status, 303, await res.text());
  assert.equal(res.headers.get('location'), '/localhost/account?done=password');
  const cookie = res.headers.getSetCookie().find((c) => c.startsWith('gh_session='));
  assert.match(cookie ?? '', /^gh_session=[^;]+; Path=\/localhost; HttpOnly; SameSite=Lax/, 'the session cookie is replaced');
  assert.deepEqual(s.users(), { localhost: { alice: 'new: pass with colon', bob: 'bobs-pass' } });

  page = await (await b.get(new URL(res.headers.get('location')!, issuer).href)).text();
  assert.match(page, /role="status" id="account-notice"><strong>Your password was changed. Every application was signed out/);
  assert.match(page, /No application can use your account./);
  for (const tokens of [one, two]) {
    assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], false);
    const refreshed = await token(issuer, { grant_type: 'refresh_token', refresh_token: tokens.refresh }, tokens.auth);
    assert.equal(refreshed.body['error'], 'invalid_grant', 'the refresh token no longer works');
  }
  assert.equal((await introspect(issuer, bobs.access, bobs.auth))['active'], true, "another user's grants stay");

  // The old password no longer signs in; the new one does.
  const fresh = new TestBrowser();
  const form = await (await fresh.get(`${issuer}/account`)).text();
  assert.equal((await fresh.post(`${issuer}/account/login`, { csrf: field(form, 'csrf'), username: 'alice', password: 'old-pass' })).status, 401);
  await signIn(fresh, issuer, 'alice', 'new: pass with colon');
  assert.ok(!s.log.text().includes('new: pass with colon') && !s.log.text().includes('old-pass'), 'no password in the log');
});

test('a wrong current password is refused, and nothing changes', async (t) => {
  const s = await startWithUsers(t, USERS);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const tokens = await grantTokens(issuer, { browser: b, password: 'old-pass' });
  const page = await (await b.get(`${issuer}/account`)).text();
  const res = await change(b, issuer, page, 'not-it', 'brand-new');
  assert.equal(res.status, 401);
  const again = await res.text();
  assert.match(again, /<p class="error" role="alert" id="password-error">Your current password is wrong.<\/p>/);
  assert.match(again, /id="current-password"[^>]*autofocus aria-invalid="true" aria-describedby="password-error"/);
  assert.ok(!again.includes('brand-new') && !again.includes('not-it'), 'passwords are not echoed');
  assert.equal(grantIds(again).length, 1, 'the page still lists the grants');
  assert.deepEqual(s.users(), USERS);
  assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], true);
});

test('the new password must be typed twice alike, and not be empty; the current one must be given', async (t) => {
  const s = await startWithUsers(t, USERS);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const page = await signIn(b, issuer, 'alice', 'old-pass');
  const cases: [string, string, string, string, string][] = [
    ['old-pass', 'one', 'two', 'The two new passwords do not match.', 'confirm-password'],
    ['old-pass', '', '', 'Enter a new password.', 'new-password'],
    ['', 'one', 'one', 'Enter your current password.', 'current-password'],
  ];
  for (const [current, next, confirm, message, focus] of cases) {
    const res = await change(b, issuer, page, current, next, confirm);
    assert.equal(res.status, 400, message);
    const html = await res.text();
    assert.ok(html.includes(`role="alert" id="password-error">${message}</p>`), message);
    assert.match(html, new RegExp(`id="${focus}"[^>]*autofocus aria-invalid="true"`));
  }
  assert.deepEqual(s.users(), USERS);
});

test('attack: a line break in the new password is refused and never reaches the script', async (t) => {
  const queries = recordQueries(t);
  const s = await startWithUsers(t, USERS);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const tokens = await grantTokens(issuer, { browser: b, password: 'old-pass' });
  const page = await (await b.get(`${issuer}/account`)).text();
  for (const evil of ['x\nsetpass:bob:localhost:owned', 'x\r\nauth:bob:localhost:y', 'x\0y']) {
    const res = await change(b, issuer, page, 'old-pass', evil);
    assert.equal(res.status, 400);
    assert.match(await res.text(), /role="alert" id="password-error">The new password cannot contain line breaks or NUL characters.</);
  }
  assert.deepEqual(s.users(), USERS, "neither alice's nor bob's password changed");
  assert.ok(!queries().some((q) => q.startsWith('setpass')), `no setpass sent: ${JSON.stringify(queries())}`);
  assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], true);
  // Positive control: the recording works (the sign-in's query is there), and a clean change is sent.
  assert.ok(queries().includes('auth:alice:localhost:old-pass'), JSON.stringify(queries()));
  assert.equal((await change(b, issuer, page, 'old-pass', 'new-pass')).status, 303);
  assert.ok(queries().includes('setpass:alice:localhost:new-pass'), JSON.stringify(queries()));
});

test('a script that cannot set passwords: "Password changes are not available here", nothing revoked', async (t) => {
  const s = await startOAuth(t, 'external_auth_commands = ["auth", "isuser"]');
  const issuer = s.issuer();
  const b = new TestBrowser();
  const tokens = await grantTokens(issuer, { browser: b });
  const page = await (await b.get(`${issuer}/account`)).text();
  const res = await change(b, issuer, page, 'secret', 'pw-alice');
  assert.equal(res.status, 501);
  const html = await res.text();
  assert.match(html, /role="alert" id="password-error">Password changes are not available here. Ask the administrator of localhost to change your password.</);
  assert.equal(grantIds(html).length, 1);
  assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], true);
  assert.equal(res.headers.getSetCookie().find((c) => c.startsWith('gh_session=')), undefined);
});

test('the current password check is throttled: refused unasked after too many failures', async (t) => {
  const queries = recordQueries(t);
  const s = await startWithUsers(t, USERS, 'auth_failure_limit_user = 2');
  const issuer = s.issuer();
  const b = new TestBrowser();
  const page = await signIn(b, issuer, 'alice', 'old-pass');
  for (let i = 0; i < 2; i++) assert.equal((await change(b, issuer, page, `guess-${i}`, 'next')).status, 401);
  const before = queries().length;
  // Positive control: the sign-in and both guesses reached the script and were recorded.
  assert.deepEqual(queries().filter((q) => q.startsWith('auth:alice:localhost:')), ['auth:alice:localhost:old-pass', 'auth:alice:localhost:guess-0', 'auth:alice:localhost:guess-1']);
  const refused = await change(b, issuer, page, 'old-pass', 'next');
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  assert.match(await refused.text(), /role="alert" id="password-error">Too many failed attempts. Try again later.</);
  assert.equal(queries().length, before, 'the script was not asked');
  assert.deepEqual(s.users(), USERS);
});

test('the script refusing the new password is a clear refusal; the grants stay', async (t) => {
  // users-file.mjs refuses passwords shorter than USERS_MIN_PASSWORD, as a script with a policy would.
  process.env['USERS_MIN_PASSWORD'] = '8';
  t.after(() => delete process.env['USERS_MIN_PASSWORD']);
  const s = await startWithUsers(t, USERS);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const tokens = await grantTokens(issuer, { browser: b, password: 'old-pass' });
  const page = await (await b.get(`${issuer}/account`)).text();
  const res = await change(b, issuer, page, 'old-pass', 'short');
  assert.equal(res.status, 400);
  const html = await res.text();
  assert.match(html, /role="alert" id="password-error">The server refused the new password. Try a different one.</);
  assert.match(html, /id="new-password"[^>]*autofocus aria-invalid="true" aria-describedby="password-error password-help"/);
  assert.deepEqual(s.users(), USERS);
  assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], true);
  assert.equal((await change(b, issuer, page, 'old-pass', 'long enough')).status, 303);
});

test('a password change signs out every other browser of the user, on the account page and in the authorization flow', async (t) => {
  const s = await startWithUsers(t, USERS);
  const issuer = s.issuer();
  const mine = new TestBrowser();
  const theirs = new TestBrowser(); // someone who knew the old password
  const bobs = new TestBrowser();
  await signIn(mine, issuer, 'alice', 'old-pass');
  await signIn(theirs, issuer, 'alice', 'old-pass');
  await signIn(bobs, issuer, 'bob', 'bobs-pass');
  // Before the change the other browser is signed in: the account page lists no sign-in form.
  assert.doesNotMatch(await (await theirs.get(`${issuer}/account`)).text(), /id="password"/);

  const page = await (await mine.get(`${issuer}/account`)).text();
  const res = await change(mine, issuer, page, 'old-pass', 'brand-new');
  assert.equal(res.status, 303, await res.text());

  // The other browser: its cookie no longer opens the account page, nor spares a login in the
  // authorization flow, and its forms are refused.
  const theirPage = await (await theirs.get(`${issuer}/account`)).text();
  assert.match(theirPage, /<label for="password">Password<\/label>/, 'signed out: the sign-in form');
  // Knowing the new password would not help a form posted with the ended session either.
  const hijack = await change(theirs, issuer, theirPage, 'brand-new', 'taken-over');
  assert.notEqual(hijack.status, 303);
  assert.equal(s.users()['localhost']!['alice'], 'brand-new');
  const client = await register(issuer);
  const { challenge } = pkce();
  const authz = await theirs.get(`${issuer}/oauth2/authorize?${new URLSearchParams({ response_type: 'code', client_id: client.client_id!, redirect_uri: REDIRECT, scope: 'xmpp', code_challenge: challenge, code_challenge_method: 'S256' })}`);
  assert.match(await authz.text(), /<label for="password">Password<\/label>/, 'the authorization flow asks to sign in again');

  // This browser stays signed in; another user is not affected.
  assert.doesNotMatch(await (await mine.get(`${issuer}/account`)).text(), /<label for="password">Password<\/label>/);
  assert.doesNotMatch(await (await bobs.get(`${issuer}/account`)).text(), /<label for="password">Password<\/label>/);
});

test('a script that crashes: on the current password check 503 and nothing changes; on setpass 503, told the change is unconfirmed, grants revoked', async (t) => {
  // crash-query.mjs exits without answering when the password is "crash" (the current one,
  // sent with auth, or the new one, sent with setpass): the answer is unknown.
  const s = await startOAuth(t, '', { script: fixture('crash-query.mjs') });
  const issuer = s.issuer();
  const b = new TestBrowser();
  const tokens = await grantTokens(issuer, { browser: b });
  const page = await (await b.get(`${issuer}/account`)).text();

  const check = await change(b, issuer, page, 'crash', 'new-pass');
  assert.equal(check.status, 503);
  const checkHtml = await check.text();
  assert.match(checkHtml, /role="alert" id="password-error">Password changes are temporarily unavailable. Try again in a moment.</);
  assert.equal(grantIds(checkHtml).length, 1, 'nothing revoked: setpass was never sent');
  assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], true);

  const set = await change(b, issuer, page, 'secret', 'crash');
  assert.equal(set.status, 503);
  const setHtml = await set.text();
  assert.match(setHtml, /role="alert" id="password-error">The server did not confirm the change: your password may or may not have changed./);
  assert.equal(grantIds(setHtml).length, 0, 'the change may have happened: every grant revoked');
  assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], false);
});
