/**
 * One identity per user on the auth API (issue 13 item 4): the failure limit, the positive
 * cache's invalidation and the logs key on the PRECIS-prepared name, while the script is
 * asked about the name as it was sent. Real server, real script recording its queries.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { postForm, startHttp } from '../helpers/http.js';
import { fixture } from '../helpers/paths.js';

async function start(t: TestContext, extra: string) {
  const rec = join(mkdtempSync(join(tmpdir(), 'gh-authapi-id-')), 'q.hex');
  process.env['RECORD_FILE'] = rec;
  t.after(() => delete process.env['RECORD_FILE']);
  const s = await startHttp(t, `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]\n${extra}`);
  const asked = () => (existsSync(rec) ? readFileSync(rec, 'utf8').trim().split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex').toString('utf8')) : []);
  const check = async (user: string, pass: string) => {
    const r = await fetch(`${s.base}/auth/check_password?${new URLSearchParams({ user, server: 'localhost', pass })}`);
    return `${r.status} ${await r.text()}`;
  };
  return { ...s, asked, check };
}

test('auth API: after dave is throttled, Dave, DAVE and dAve are refused too and never reach the script', async (t) => {
  const s = await start(t, 'auth_failure_limit_user = 3\nauth_failure_window = 60');
  for (let i = 0; i < 3; i++) assert.equal(await s.check('dave', 'wrong'), '200 false');
  for (const name of ['dave', 'Dave', 'DAVE', 'dAve', 'ｄａｖｅ']) assert.match(await s.check(name, 'pw-dave'), /^429 /, name);
  assert.deepEqual(s.asked(), Array(3).fill('auth:dave:localhost:wrong'));
  const refused = s.log.entries.filter((e) => e.msg === 'login refused: too many failures').map((e) => e.obj['user']);
  assert.deepEqual([...new Set(refused)], ['dave']);
});

test('auth API: the script still gets the name as sent', async (t) => {
  const s = await start(t, '');
  assert.equal(await s.check('Alice', 'secret'), '200 true');
  assert.deepEqual(s.asked(), ['auth:Alice:localhost:secret']);
});

test("auth API: a password changed as Dave ends dave's cached yes", async (t) => {
  const s = await start(t, 'external_auth_cache_ttl = 300');
  assert.equal(await s.check('dave', 'secret'), '200 true');
  assert.equal(await s.check('dave', 'secret'), '200 true');
  assert.equal(s.asked().length, 1, 'the second answer came from the cache');
  assert.equal((await postForm(`${s.base}/auth/set_password`, { user: 'Dave', server: 'localhost', pass: 'new' })).status, 204);
  assert.equal(await s.check('dave', 'secret'), '200 true');
  assert.deepEqual(s.asked(), ['auth:dave:localhost:secret', 'setpass:Dave:localhost:new', 'auth:dave:localhost:secret'], 'the cached yes outlived the password change');
});
