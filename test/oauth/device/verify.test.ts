/**
 * The user's pages (RFC 8628 §3.3) over real HTTP: code entry (case and dash ignored, the
 * verification_uri_complete pre-fill), sign-in and consent sharing the browser session, CSRF,
 * 303 after every POST, security headers, and the brute-force lockout of code entry (§5.1).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { hashSecret, newSecret } from '../../../src/oauth/tokens/secrets.js';
import { TestBrowser, field } from '../../helpers/browser.js';
import { enterCode, follow, registerDevice, started, startDeviceServer, userDecides } from '../../helpers/oauth-device.js';

test('the code page: a form with a CSRF token, security headers, pre-filled from verification_uri_complete', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  const b = new TestBrowser();
  const res = await b.get(d.verification_uri);
  assert.equal(res.status, 200);
  assert.equal(res.headers.get('content-security-policy'), "default-src 'self'; frame-ancestors 'none'");
  assert.equal(res.headers.get('x-frame-options'), 'DENY');
  assert.equal(res.headers.get('referrer-policy'), 'no-referrer');
  assert.equal(res.headers.get('cache-control'), 'no-store');
  assert.match(res.headers.get('set-cookie') ?? '', /^gh_csrf=[A-Za-z0-9_-]{24}; Path=\/localhost; HttpOnly; SameSite=Strict/);
  const html = await res.text();
  assert.match(html, /<h1>Connect a device<\/h1>/);
  assert.match(html, /<label for="user_code">Code<\/label>/);
  assert.ok(field(html, 'csrf').length > 0);
  assert.match(html, /name="user_code"[^>]* value=""/);

  const complete = await (await b.get(d.verification_uri_complete)).text();
  assert.match(complete, new RegExp(`name="user_code"[^>]* value="${d.user_code}"`));
  // A lower-case code in the link is shown as the device shows it; other input is escaped.
  const lower = await (await b.get(`${d.verification_uri}?user_code=${d.user_code.toLowerCase().replace('-', '')}`)).text();
  assert.match(lower, new RegExp(`value="${d.user_code}"`));
  const evil = await (await b.get(`${d.verification_uri}?user_code=${encodeURIComponent('"><script>x</script>')}`)).text();
  assert.ok(!evil.includes('<script>'));
  // Opening the link looks nothing up: no failure is counted.
  assert.equal(await s.store.failuresOf('device-user-code:127.0.0.1', Date.now()), 0);
});

test('the code is compared case-insensitively, with dashes and spaces ignored', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  for (const shape of [(c: string) => c.toLowerCase(), (c: string) => c.replace('-', ''), (c: string) => ` ${c.replace('-', ' ').toLowerCase()} `]) {
    const d = await started(s.issuer, client);
    const res = await enterCode(new TestBrowser(), s.issuer, shape(d.user_code));
    assert.equal(res.status, 303, shape(d.user_code));
    assert.match(res.headers.get('location')!, /^\/localhost\/oauth2\/device\/consent\?request=/);
  }
});

test('sign-in, then consent naming the client, its URI, the scopes, the JID and the code; 303 after every POST', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client, 'xmpp openid offline_access');
  const b = new TestBrowser();
  const entered = await enterCode(b, s.issuer, d.user_code);
  assert.equal(entered.status, 303);
  const loginPage = await (await follow(b, entered, s.issuer)).text();
  assert.match(loginPage, /<h1>Sign in<\/h1>/);
  // Nothing proves a device client's name (client-identity.test.ts).
  assert.match(loginPage, /<strong>Test TV \(unverified\)<\/strong> wants to use your account on <strong>localhost<\/strong>/);
  assert.match(loginPage, /action="\/localhost\/oauth2\/device\/login"/);

  const wrong = await b.post(`${s.issuer}/oauth2/device/login`, { request: field(loginPage, 'request'), csrf: field(loginPage, 'csrf'), username: 'alice', password: 'nope' });
  assert.equal(wrong.status, 401);
  const retry = await wrong.text();
  assert.match(retry, /role="alert" id="login-error">Wrong username or password\./);

  const login = await b.post(`${s.issuer}/oauth2/device/login`, { request: field(retry, 'request'), csrf: field(retry, 'csrf'), username: 'Alice@localhost', password: 'secret' });
  assert.equal(login.status, 303);
  assert.match(login.headers.get('set-cookie') ?? '', /^gh_session=/);
  const consent = await (await follow(b, login, s.issuer)).text();
  assert.match(consent, /<h1>Allow access\?<\/h1>/);
  assert.match(consent, /<strong>Test TV<\/strong> <span class="unverified">\(unverified: this name and the address https:\/\/tv\.example\.net\/ were given by whoever registered the application, and nothing proves they belong to it\)<\/span> asks to access your account <strong>alice@localhost<\/strong>/);
  assert.match(consent, new RegExp(`<strong id="user-code">${d.user_code}</strong>`));
  assert.match(consent, /<code>xmpp<\/code>/);
  assert.match(consent, /<code>openid<\/code>/);
  assert.match(consent, /<code>offline_access<\/code>/);
  assert.match(consent, /action="\/localhost\/oauth2\/device\/consent"/);

  const allow = await b.post(`${s.issuer}/oauth2/device/consent`, { request: field(consent, 'request'), csrf: field(consent, 'csrf'), decision: 'allow' });
  assert.equal(allow.status, 303);
  const done = await follow(b, allow, s.issuer);
  assert.equal(done.status, 200);
  const text = await done.text();
  assert.match(text, /<h1>Device connected<\/h1>/);
  const record = (await s.store.findDevice(hashSecret(d.device_code)))!;
  assert.equal(record.status, 'approved');
  const grant = (await s.store.getGrant(record.grantId!))!;
  assert.equal(grant.user, 'alice');
  assert.equal(grant.clientId, client.client_id);
  assert.equal(grant.scope, 'xmpp openid offline_access');

  // The answered request cannot be answered again.
  const replay = await b.post(`${s.issuer}/oauth2/device/consent`, { request: field(consent, 'request'), csrf: field(consent, 'csrf'), decision: 'deny' });
  assert.equal(replay.status, 400);
  assert.equal((await s.store.findDevice(hashSecret(d.device_code)))?.status, 'approved');
});

test('a signed-in browser goes straight from the code to consent', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const b = new TestBrowser();
  await userDecides(s.issuer, (await started(s.issuer, client)).user_code, { browser: b });
  const d = await started(s.issuer, client);
  const page = await (await follow(b, await enterCode(b, s.issuer, d.user_code), s.issuer)).text();
  assert.match(page, /<h1>Allow access\?<\/h1>/);
  assert.ok(!page.includes('name="password"'));
});

test('CSRF: forms without the cookie, bound to another browser, or to another request are refused', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  const victim = new TestBrowser();
  const attacker = new TestBrowser();

  // Code entry: the attacker's form token in the victim's browser.
  const attackerPage = await (await attacker.get(`${s.issuer}/oauth2/device/verify`)).text();
  await victim.get(`${s.issuer}/oauth2/device/verify`);
  const forged = await victim.post(`${s.issuer}/oauth2/device/verify`, { csrf: field(attackerPage, 'csrf'), user_code: d.user_code });
  assert.equal(forged.status, 403);
  const none = await fetch(`${s.issuer}/oauth2/device/verify`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `user_code=${d.user_code}` });
  assert.equal(none.status, 403);

  // Consent: the attacker signs in on his own browser and replays his form in the victim's.
  const entered = await enterCode(attacker, s.issuer, d.user_code);
  const login = await (await follow(attacker, entered, s.issuer)).text();
  const signedIn = await attacker.post(`${s.issuer}/oauth2/device/login`, { request: field(login, 'request'), csrf: field(login, 'csrf'), username: 'alice', password: 'secret' });
  const consent = await (await follow(attacker, signedIn, s.issuer)).text();
  await userDecides(s.issuer, (await started(s.issuer, client)).user_code, { browser: victim });
  const crossBrowser = await victim.post(`${s.issuer}/oauth2/device/consent`, { request: field(consent, 'request'), csrf: field(consent, 'csrf'), decision: 'allow' });
  assert.equal(crossBrowser.status, 403);
  // A valid CSRF token of another request.
  const other = await started(s.issuer, client);
  const otherConsent = await (await follow(attacker, await enterCode(attacker, s.issuer, other.user_code), s.issuer)).text();
  const mixed = await attacker.post(`${s.issuer}/oauth2/device/consent`, { request: field(consent, 'request'), csrf: field(otherConsent, 'csrf'), decision: 'allow' });
  assert.equal(mixed.status, 403);
  assert.equal((await s.store.findDevice(hashSecret(d.device_code)))?.status, 'pending');
  // A forged request token.
  const tampered = await attacker.post(`${s.issuer}/oauth2/device/consent`, { request: `${field(consent, 'request')}x`, csrf: field(consent, 'csrf'), decision: 'allow' });
  assert.equal(tampered.status, 403);
});

test('brute force: after 10 wrong codes from one address, even a right code is refused with a clear message', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const d = await started(s.issuer, client);
  const b = new TestBrowser();
  const page = await (await b.get(`${s.issuer}/oauth2/device/verify`)).text();
  const csrf = field(page, 'csrf');
  const wrongCode = d.user_code.startsWith('B') ? 'CCCC-CCCC' : 'BBBB-BBBB';

  // Input that cannot be a code is a typo, not a guess: not counted.
  const typo = await b.post(`${s.issuer}/oauth2/device/verify`, { csrf, user_code: 'ABC' });
  assert.equal(typo.status, 400);
  assert.match(await typo.text(), /A code has 8 letters/);

  for (let i = 1; i <= 9; i++) {
    const res = await b.post(`${s.issuer}/oauth2/device/verify`, { csrf, user_code: wrongCode });
    assert.equal(res.status, 400, `try ${i}`);
    assert.match(await res.text(), /role="alert" id="user-code-error">That code is not valid\./);
  }
  const tenth = await b.post(`${s.issuer}/oauth2/device/verify`, { csrf, user_code: wrongCode });
  assert.equal(tenth.status, 429);
  assert.equal(tenth.headers.get('retry-after'), '600');
  assert.match(await tenth.text(), /Too many wrong codes were entered from your network\. Wait 10 minutes, then try again\./);

  const right = await b.post(`${s.issuer}/oauth2/device/verify`, { csrf, user_code: d.user_code });
  assert.equal(right.status, 429, 'locked out: the right code is refused too');
  assert.equal(right.headers.get('location'), null);
  assert.match(await right.text(), /Too many wrong codes/);
  // A fresh browser from the same address is locked out as well: the count is per address.
  const fresh = new TestBrowser();
  const freshPage = await fresh.get(`${s.issuer}/oauth2/device/verify`);
  assert.equal(freshPage.status, 429);
  const freshTry = await fresh.post(`${s.issuer}/oauth2/device/verify`, { csrf: field(await freshPage.text(), 'csrf'), user_code: d.user_code });
  assert.equal(freshTry.status, 429);
  assert.equal(await s.store.failuresOf('device-user-code:127.0.0.1', Date.now()), 10);
  assert.equal((await s.store.findDevice(hashSecret(d.device_code)))?.status, 'pending');
  assert.ok(s.log.entries.some((e) => e.msg === 'device user-code entry locked: too many wrong codes'));

  // The window passes (explicit times: the counter is the store's).
  await s.store.clearFailures('device-user-code:127.0.0.1');
  const after = await b.post(`${s.issuer}/oauth2/device/verify`, { csrf, user_code: d.user_code });
  assert.equal(after.status, 303);
});

test('a right code never resets the count of wrong ones', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const b = new TestBrowser();
  const csrf = field(await (await b.get(`${s.issuer}/oauth2/device/verify`)).text(), 'csrf');
  for (let i = 0; i < 5; i++) await b.post(`${s.issuer}/oauth2/device/verify`, { csrf, user_code: 'BBBB-BBBB' });
  const own = await started(s.issuer, client);
  assert.equal((await b.post(`${s.issuer}/oauth2/device/verify`, { csrf, user_code: own.user_code })).status, 303);
  assert.equal(await s.store.failuresOf('device-user-code:127.0.0.1', Date.now()), 5);
});

test('expired, answered and other hosts\' codes are refused at entry, and counted', async (t) => {
  const s = await startDeviceServer(t);
  const client = await registerDevice(s.issuer);
  const now = Date.now();
  await s.store.saveDevice({
    deviceHash: hashSecret(newSecret()),
    userCode: 'BCDFGHJK',
    host: 'localhost',
    clientHash: hashSecret(client.client_id!),
    clientId: client.client_id!,
    scope: 'xmpp',
    createdAt: now - 700_000,
    expiresAt: now - 100_000,
    interval: 5,
    lastPollAt: null,
    status: 'pending',
    grantId: null,
  });
  const b = new TestBrowser();
  const expired = await enterCode(b, s.issuer, 'bcdf-ghjk');
  assert.equal(expired.status, 400);
  assert.match(await expired.text(), /That code has expired\. Start again on your device/);

  const d = await started(s.issuer, client);
  await userDecides(s.issuer, d.user_code, { decision: 'deny' });
  const used = await enterCode(b, s.issuer, d.user_code);
  assert.equal(used.status, 400);
  assert.match(await used.text(), /That code has already been used/);

  const fresh = await started(s.issuer, client);
  const elsewhere = await enterCode(b, s.otherIssuer, fresh.user_code);
  assert.equal(elsewhere.status, 400);
  assert.match(await elsewhere.text(), /That code is not valid/);
  assert.equal(await s.store.failuresOf('device-user-code:127.0.0.1', Date.now()), 3);
});

test('the request pages refuse a missing or forged request token', async (t) => {
  const s = await startDeviceServer(t);
  for (const q of ['', '?request=', '?request=abc', '?request=a&request=b']) {
    const res = await fetch(`${s.issuer}/oauth2/device/consent${q}`);
    assert.equal(res.status, 400, q);
    assert.match(await res.text(), /Request expired/);
  }
  const done = await fetch(`${s.issuer}/oauth2/device/done?request=abc`);
  assert.equal(done.status, 400);
});

test('the client\'s name is escaped on every device page', async (t) => {
  const s = await startDeviceServer(t);
  const evil = '<img src=x onerror=alert(1)> "TV"';
  const client = await registerDevice(s.issuer, { client_name: evil });
  const d = await started(s.issuer, client);
  const b = new TestBrowser();
  const login = await (await follow(b, await enterCode(b, s.issuer, d.user_code), s.issuer)).text();
  const signedIn = await b.post(`${s.issuer}/oauth2/device/login`, { request: field(login, 'request'), csrf: field(login, 'csrf'), username: 'alice', password: 'secret' });
  const consent = await (await follow(b, signedIn, s.issuer)).text();
  const decided = await b.post(`${s.issuer}/oauth2/device/consent`, { request: field(consent, 'request'), csrf: field(consent, 'csrf'), decision: 'allow' });
  const done = await (await follow(b, decided, s.issuer)).text();
  for (const page of [login, consent, done]) {
    assert.ok(!page.includes('<img'), page);
    assert.ok(page.includes('&lt;img src=x onerror=alert(1)&gt; &quot;TV&quot;'));
  }
});
