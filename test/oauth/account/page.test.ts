/**
 * The account page over real HTTP: its own sign-in (CSRF-bound, throttled, 303 then the
 * session cookie), the list of applications holding grants, revocation (tokens inactive at
 * introspection; another user's or another host's grant refused), sign-out, CSRF refusals,
 * escaping and security headers.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { field, TestBrowser } from '../../helpers/browser.js';
import { introspect, startOAuth } from '../../helpers/oauth.js';
import { grantIds, grantTokens, signIn } from '../../helpers/oauth-account.js';

test('not signed in: the page is a sign-in form; a right password gets 303 and the session cookie', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const res = await b.get(`${issuer}/account`);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-security-policy'), "default-src 'self'; frame-ancestors 'none'");
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  const csrfCookie = res.headers.getSetCookie().find((c) => c.startsWith('gh_csrf='));
  assert.match(csrfCookie ?? '', /Path=\/localhost; HttpOnly; SameSite=Strict/);
  const form = await res.text();
  assert.match(form, /<h1>Sign in to your account<\/h1>/);
  assert.match(form, /<form method="post" action="\/localhost\/account\/login">/);
  assert.match(form, /<label for="username">Username<\/label>/);
  assert.match(form, /<label for="password">Password<\/label>/);
  assert.match(form, /id="username"[^>]*autofocus/);
  assert.ok(!form.includes('role="alert"'));
  assert.ok(!form.includes('<script'), 'no JavaScript');

  const wrong = await b.post(`${issuer}/account/login`, { csrf: field(form, 'csrf'), username: 'alice', password: 'nope' });
  assert.equal(wrong.status, 401);
  const again = await wrong.text();
  assert.match(again, /<p class="error" role="alert" id="login-error">Wrong username or password.<\/p>/);
  assert.match(again, /id="password"[^>]*autofocus aria-invalid="true" aria-describedby="login-error"/);
  assert.match(again, /value="alice"/);
  assert.ok(!b.jar.has('gh_session'));

  const badName = await b.post(`${issuer}/account/login`, { csrf: field(again, 'csrf'), username: 'al ice', password: 'secret' });
  assert.equal(badName.status, 400);
  assert.match(await badName.text(), /cannot contain spaces/);

  // The username is prepared as on the authorization login: case-folded, own host stripped.
  const ok = await b.post(`${issuer}/account/login`, { csrf: field(again, 'csrf'), username: 'ALICE@localhost', password: 'pw-alice' });
  assert.equal(ok.status, 303);
  assert.equal(ok.headers.get('location'), '/localhost/account');
  assert.match(ok.headers.getSetCookie().find((c) => c.startsWith('gh_session=')) ?? '', /Path=\/localhost; HttpOnly; SameSite=Lax/);
  const page = await (await b.get(`${issuer}/account`)).text();
  assert.match(page, /<h1>Your account<\/h1>/);
  assert.match(page, /Signed in as <strong>alice@localhost<\/strong>/);
  assert.match(page, /<p>No application can use your account.<\/p>/);
  assert.ok(!s.log.text().includes('pw-alice'), 'no password in the log');
});

test('the sign-in is throttled like every login: refused unasked after too many failures', async (t) => {
  const s = await startOAuth(t, 'auth_failure_limit_user = 2');
  const issuer = s.issuer();
  const b = new TestBrowser();
  const form = await (await b.get(`${issuer}/account`)).text();
  const csrf = field(form, 'csrf');
  for (let i = 0; i < 2; i++) {
    assert.equal((await b.post(`${issuer}/account/login`, { csrf, username: 'alice', password: 'nope' })).status, 401);
  }
  const refused = await b.post(`${issuer}/account/login`, { csrf, username: 'alice', password: 'secret' });
  assert.equal(refused.status, 429);
  assert.ok(Number(refused.headers.get('retry-after')) > 0);
  assert.match(await refused.text(), /role="alert" id="login-error">Too many failed attempts. Try again later.</);
  assert.ok(!b.jar.has('gh_session'));
});

test('the session of the authorization flow opens the account page; it lists the clients holding grants in words', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  await grantTokens(issuer, { browser: b, clientName: 'Test Chat' });
  await grantTokens(issuer, { browser: b, clientName: 'Second Chat' });

  const page = await (await b.get(`${issuer}/account`)).text();
  assert.match(page, /Signed in as <strong>alice@localhost<\/strong>/);
  assert.match(page, /<h2 id="apps-heading">Applications with access<\/h2>/);
  assert.equal(grantIds(page).length, 2);
  // Newest use first.
  assert.ok(page.indexOf('<h3 id="grant-1">Second Chat</h3>') < page.indexOf('<h3 id="grant-2">Test Chat</h3>'));
  assert.match(page, /<a href="https:\/\/app.example.net\/" rel="noopener noreferrer">https:\/\/app.example.net\/<\/a>/);
  assert.match(page, /<li>Use your chat account fully: read and send messages, manage contacts<\/li>/);
  assert.match(page, /<li>Stay signed in when you are not using it<\/li>/);
  assert.match(page, /Allowed <time datetime="\d{4}-\d\d-\d\dT[^"]+Z">just now<\/time>; last used <time datetime="[^"]+">just now<\/time>\./);
  assert.match(page, /<button type="submit" class="secondary" aria-label="Revoke access for Test Chat">Revoke access<\/button>/);
  // Every form carries the CSRF token.
  assert.equal(page.match(/<form /g)?.length, page.match(/name="csrf" value="[^"]+"/g)?.length);
});

test('client names are escaped on the account page', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  await grantTokens(issuer, { browser: b, clientName: '<img src=x onerror=alert(1)> & "Co"' });
  const page = await (await b.get(`${issuer}/account`)).text();
  assert.ok(!page.includes('<img'));
  assert.ok(page.includes('&lt;img src=x onerror=alert(1)&gt; &amp; &quot;Co&quot;'));
  assert.ok(page.includes('aria-label="Revoke access for &lt;img src=x onerror=alert(1)&gt; &amp; &quot;Co&quot;"'));
});

test('revoking a client: 303 with a confirmation, its tokens inactive at introspection, the others untouched', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const first = await grantTokens(issuer, { browser: b, clientName: 'Test Chat' });
  const second = await grantTokens(issuer, { browser: b, clientName: 'Second Chat' });
  assert.equal((await introspect(issuer, first.access, first.auth))['active'], true);

  let page = await (await b.get(`${issuer}/account`)).text();
  const [secondId, firstId] = grantIds(page);
  const res = await b.post(`${issuer}/account/revoke`, { csrf: field(page, 'csrf'), grant: firstId! });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), `/localhost/account?revoked=${encodeURIComponent(firstId!)}`);
  page = await (await b.get(new URL(res.headers.get('location')!, issuer).href)).text();
  assert.match(page, /<p role="status" id="account-notice"><strong>Test Chat can no longer use your account.<\/strong><\/p>/);
  assert.deepEqual(grantIds(page), [secondId]);
  assert.ok(!page.includes('<h3 id="grant-1">Test Chat</h3>'));

  assert.equal((await introspect(issuer, first.access, first.auth))['active'], false);
  assert.equal((await introspect(issuer, first.refresh, first.auth))['active'], false);
  assert.equal((await introspect(issuer, second.access, second.auth))['active'], true);

  // A double submit is harmless: the same confirmation.
  const twice = await b.post(`${issuer}/account/revoke`, { csrf: field(page, 'csrf'), grant: firstId! });
  assert.equal(twice.status, 303);
  // An unknown id is a 404 page; a `revoked=` of someone else's live grant confirms nothing.
  const unknown = await b.post(`${issuer}/account/revoke`, { csrf: field(page, 'csrf'), grant: 'no-such-grant' });
  assert.equal(unknown.status, 404);
  assert.match(await unknown.text(), /<p role="alert">That application does not have access to your account.<\/p>/);
  const forged = await (await b.get(`${issuer}/account?revoked=${encodeURIComponent(secondId!)}`)).text();
  assert.ok(!forged.includes('role="status"'));
});

test("attack: revoking another user's grant id, or another host's, is refused and changes nothing", async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const bob = new TestBrowser();
  const bobs = await grantTokens(issuer, { browser: bob, user: 'bob', clientName: 'Bob Chat' });
  const bobId = grantIds(await (await bob.get(`${issuer}/account`)).text())[0]!;

  const alice = new TestBrowser();
  const page = await signIn(alice, issuer);
  const res = await alice.post(`${issuer}/account/revoke`, { csrf: field(page, 'csrf'), grant: bobId });
  assert.equal(res.status, 404);
  assert.equal(res.headers.get('location'), null);
  assert.equal((await introspect(issuer, bobs.access, bobs.auth))['active'], true);
  assert.match(s.log.text(), /refused to revoke another user's grant/);

  // The same username on another host is another account.
  const elsewhere = new TestBrowser();
  const otherPage = await signIn(elsewhere, s.issuer('other.example'), 'bob');
  const cross = await elsewhere.post(`${s.issuer('other.example')}/account/revoke`, { csrf: field(otherPage, 'csrf'), grant: bobId });
  assert.equal(cross.status, 404);
  assert.equal((await introspect(issuer, bobs.access, bobs.auth))['active'], true);
  // And a localhost session does not open the other host's account page.
  const notThere = await (await bob.get(`${s.issuer('other.example')}/account`)).text();
  assert.match(notThere, /Sign in to your account/);
});

test('CSRF: a missing, wrong, foreign or sign-in-form token is refused with 403 and nothing happens', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const tokens = await grantTokens(issuer, { browser: b });
  const page = await (await b.get(`${issuer}/account`)).text();
  const id = grantIds(page)[0]!;
  const good = field(page, 'csrf');

  // Another browser's token (with its own cookie), and the token of a sign-in form.
  const eve = new TestBrowser();
  const evePage = await signIn(eve, issuer, 'eve');
  const foreign = field(evePage, 'csrf');
  const loginForm = await (await new TestBrowser().get(`${issuer}/account`)).text();
  const signInToken = field(loginForm, 'csrf');
  // Same browser cookie, but a token minted for the sign-in form (purpose "account").
  const ownSignIn = await (async () => {
    const fresh = new TestBrowser();
    fresh.jar.set('gh_csrf', b.jar.get('gh_csrf')!);
    return field(await (await fresh.get(`${issuer}/account`)).text(), 'csrf');
  })();

  const bad: Record<string, string>[] = [{}, { csrf: '' }, { csrf: good.slice(0, -1) + (good.endsWith('A') ? 'B' : 'A') }, { csrf: foreign }, { csrf: signInToken }, { csrf: ownSignIn }];
  for (const extra of bad) {
    const revoke = await b.post(`${issuer}/account/revoke`, { grant: id, ...extra });
    assert.equal(revoke.status, 403, JSON.stringify(extra));
    assert.match(await revoke.text(), /<h1>Form expired<\/h1>/);
    const pw = await b.post(`${issuer}/account/password`, { current_password: 'secret', new_password: 'x', confirm_password: 'x', ...extra });
    assert.equal(pw.status, 403);
    const out = await b.post(`${issuer}/account/signout`, { ...extra });
    assert.equal(out.status, 403);
  }
  // Without the CSRF cookie (a cross-site POST does not carry a SameSite=Strict cookie).
  const noCookie = new TestBrowser();
  noCookie.jar.set('gh_session', b.jar.get('gh_session')!);
  assert.equal((await noCookie.post(`${issuer}/account/revoke`, { grant: id, csrf: good })).status, 403);
  // The sign-in form too.
  assert.equal((await new TestBrowser().post(`${issuer}/account/login`, { csrf: signInToken, username: 'alice', password: 'secret' })).status, 403);
  assert.equal((await b.post(`${issuer}/account/login`, { username: 'alice', password: 'secret' })).status, 403);

  assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], true, 'nothing revoked');
  assert.equal(grantIds(await (await b.get(`${issuer}/account`)).text()).length, 1);
  assert.equal((await b.post(`${issuer}/account/revoke`, { grant: id, csrf: good })).status, 303, 'the right token works');
});

test('without a session, the forms of a signed-in user do nothing', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const tokens = await grantTokens(issuer, { browser: b });
  const page = await (await b.get(`${issuer}/account`)).text();
  b.jar.delete('gh_session');
  const res = await b.post(`${issuer}/account/revoke`, { grant: grantIds(page)[0]!, csrf: field(page, 'csrf') });
  assert.equal(res.status, 401);
  assert.match(await res.text(), /Your sign-in has expired/);
  assert.equal((await introspect(issuer, tokens.access, tokens.auth))['active'], true);
});

test('sign out clears the session cookie and says so', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const page = await signIn(b, issuer);
  assert.match(page, /<form method="post" action="\/localhost\/account\/signout">/);
  const res = await b.post(`${issuer}/account/signout`, { csrf: field(page, 'csrf') });
  assert.equal(res.status, 303);
  assert.equal(res.headers.get('location'), '/localhost/account?done=signedout');
  assert.match(res.headers.getSetCookie().find((c) => c.startsWith('gh_session=')) ?? '', /^gh_session=; Path=\/localhost; HttpOnly; SameSite=Lax; Max-Age=0/);
  const after = await (await b.get(new URL(res.headers.get('location')!, issuer).href)).text();
  assert.match(after, /Sign in to your account/);
  assert.match(after, /role="status" id="account-notice"><strong>You are signed out.</);
});

test('bodies other than forms, and repeated parameters, get an error page', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const b = new TestBrowser();
  const page = await signIn(b, issuer);
  const json = await fetch(`${issuer}/account/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: [...b.jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    body: JSON.stringify({ csrf: field(page, 'csrf'), grant: ['x'] }),
  });
  assert.equal(json.status, 415);
  assert.match(json.headers.get('content-type') ?? '', /text\/html/);
  const twice = await fetch(`${issuer}/account/revoke`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: [...b.jar].map(([k, v]) => `${k}=${v}`).join('; ') },
    body: `csrf=${encodeURIComponent(field(page, 'csrf'))}&grant=a&grant=b`,
  });
  assert.equal(twice.status, 400);
  assert.match(await twice.text(), /The form could not be read/);
  assert.equal((await b.get(`${issuer}/account?done=a&done=b`)).status, 400);
  // A `done=` code that is not ours shows nothing.
  const odd = await (await b.get(`${issuer}/account?done=%3Cscript%3E`)).text();
  assert.ok(!odd.includes('role="status"') && !odd.includes('<script'));
});
