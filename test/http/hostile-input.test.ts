/**
 * Malformed input at the HTTP edge (issue 13, items 1, 2 and 5), tried for real against a
 * running server with a real auth script: every refusal is a 4xx from the one decoder, never a
 * 500, and nothing undecoded reaches the script.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { postForm, startHttp } from '../helpers/http.js';
import { basic, register, startOAuth } from '../helpers/oauth.js';
import { fixture } from '../helpers/paths.js';

const script = `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]`;

async function post(url: string, body: string | undefined, headers: Record<string, string> = {}): Promise<{ status: number; text: string; type: string | null }> {
  const r = await fetch(url, { method: 'POST', headers, ...(body === undefined ? {} : { body }) });
  return { status: r.status, text: await r.text(), type: r.headers.get('content-type') };
}

test('OAuth form endpoints: no body, or a JSON null body, is never a 500', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const paths = ['/oauth2/token', '/oauth2/revoke', '/oauth2/introspect', '/oauth2/authorize/login', '/oauth2/authorize/consent', '/oauth2/device', '/oauth2/userinfo', '/oauth2/logout', '/oauth2/logout/confirm', '/account/login', '/account/password'];
  for (const path of paths) {
    const none = await post(`${issuer}${path}`, undefined);
    // Without a body: a refusal, or (sign-out with nothing to sign out of) the signed-out page.
    assert.ok(none.status < 500, `${path} without a body answered ${none.status}: ${none.text}`);
    const nul = await post(`${issuer}${path}`, 'null', { 'content-type': 'application/json' });
    assert.ok(nul.status >= 400 && nul.status < 500, `${path} with JSON null answered ${nul.status}: ${nul.text}`);
  }
  assert.deepEqual(
    s.log.entries.filter((e) => e.level === 'error').map((e) => e.msg),
    [],
    'no request failed on the server',
  );
});

test('OAuth form endpoints refuse JSON from an authenticated client with 415 invalid_request', async (t) => {
  const s = await startOAuth(t);
  const issuer = s.issuer();
  const client = await register(issuer);
  const auth = basic(client.client_id!, client.client_secret!);
  const cases: [string, unknown][] = [
    ['/oauth2/token', { grant_type: 'authorization_code', code: 123, code_verifier: 'x'.repeat(43) }],
    ['/oauth2/token', { grant_type: 'authorization_code', code: ['a'], code_verifier: 'x'.repeat(43) }],
    ['/oauth2/token', { grant_type: 'refresh_token', refresh_token: { a: 1 } }],
    ['/oauth2/introspect', { token: null }],
    ['/oauth2/revoke', { token: { x: 1 } }],
  ];
  for (const [path, body] of cases) {
    const r = await post(`${issuer}${path}`, JSON.stringify(body), { 'content-type': 'application/json', authorization: auth });
    assert.equal(r.status, 415, `${path} ${JSON.stringify(body)}: ${r.text}`);
    assert.equal((JSON.parse(r.text) as Record<string, unknown>)['error'], 'invalid_request');
  }
  // A repeated parameter in a form body, and in a query string, is an invalid_request.
  const dup = await post(`${issuer}/oauth2/token`, 'grant_type=refresh_token&refresh_token=a&refresh_token=b', { 'content-type': 'application/x-www-form-urlencoded', authorization: auth });
  assert.equal(dup.status, 400);
  assert.equal((JSON.parse(dup.text) as Record<string, unknown>)['error'], 'invalid_request');
  const escape = await post(`${issuer}/oauth2/introspect`, 'token=%ZZ', { 'content-type': 'application/x-www-form-urlencoded', authorization: auth });
  assert.equal(escape.status, 400);
  assert.equal((JSON.parse(escape.text) as Record<string, unknown>)['error'], 'invalid_request');
  assert.deepEqual(s.log.entries.filter((e) => e.level === 'error').map((e) => e.msg), []);
});

test('registration takes JSON only: a form is a 415, not a missing field', async (t) => {
  const s = await startOAuth(t);
  const r = await post(`${s.issuer()}/oauth2/register`, 'client_name=x&redirect_uris=https%3A%2F%2Fapp.example.net%2Fcb', { 'content-type': 'application/x-www-form-urlencoded' });
  assert.equal(r.status, 415, r.text);
  assert.equal((JSON.parse(r.text) as Record<string, unknown>)['error'], 'invalid_request');
  // JSON still registers.
  assert.equal((await register(s.issuer())).status, 201);
});

test('auth API: an invalid percent-escape or invalid UTF-8 is a 400 on GET and POST, and never reaches the script', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-hostile-'));
  const rec = join(dir, 'q.hex');
  process.env['RECORD_FILE'] = rec;
  t.after(() => delete process.env['RECORD_FILE']);
  const { base } = await startHttp(t, script);
  const bad = ['user=alice&server=localhost&pass=%ZZ', 'user=ali%ce&server=localhost&pass=secret', 'user=alice&server=localhost&pass=secret%', 'user=alice&server=local%C0%AEhost&pass=secret', 'user=alice&server=localhost&pass=%ED%A0%80'];
  for (const query of bad) {
    const get = await fetch(`${base}/auth/check_password?${query}`);
    assert.equal(get.status, 400, `GET ${query}: ${await get.text()}`);
    const form = await post(`${base}/auth/set_password`, query, { 'content-type': 'application/x/www-form-urlencoded' });
    assert.equal(form.status, 400, `POST ${query}: ${form.text}`);
  }
  const exists = await fetch(`${base}/auth/user_exists?user=%ZZ&server=localhost`);
  assert.equal(exists.status, 400);
  assert.equal(existsSync(rec) ? readFileSync(rec, 'utf8') : '', '', 'the script was asked about undecodable input');
  // Well-formed escapes still arrive decoded, on both paths.
  assert.equal(await (await fetch(`${base}/auth/check_password?user=ali%63e&server=localhost&pass=secre%74`)).text(), 'true');
  assert.equal((await postForm(`${base}/auth/set_password`, { user: 'ålice', server: 'localhost', pass: 'n€w' })).status, 204);
  const sent = readFileSync(rec, 'utf8').trim().split('\n').map((h) => Buffer.from(h, 'hex').toString('utf8'));
  assert.deepEqual(sent, ['auth:alice:localhost:secret', 'setpass:ålice:localhost:n€w']);
});
