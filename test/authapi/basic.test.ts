/**
 * HTTP Basic credentials of the auth API (RFC 7617, Prosody's http_auth_credentials), attack by
 * attack against a real server and a real auth script that records what it is asked: a refused
 * request is a 401 that never reaches the script.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { startHttp } from '../helpers/http.js';
import { fixture } from '../helpers/paths.js';

const CREDENTIALS = 'prosody:s3cret:with:colons';
const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');
const VALID = b64(CREDENTIALS); // ends in one "="

async function start(t: TestContext, credentials: string) {
  const rec = join(mkdtempSync(join(tmpdir(), 'gh-authapi-basic-')), 'q.hex');
  process.env['RECORD_FILE'] = rec;
  t.after(() => delete process.env['RECORD_FILE']);
  const script = `external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]`;
  const s = await startHttp(t, `${script}\nhttp_auth_credentials = ${JSON.stringify(credentials)}`);
  const asked = () => (existsSync(rec) ? readFileSync(rec, 'utf8').split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex').toString('utf8')) : []);
  /** check_password for `user` with the password the script accepts, with or without an Authorization header. */
  const check = (user: string, authorization?: string) =>
    fetch(`${s.base}/auth/check_password?${new URLSearchParams({ user, server: 'localhost', pass: 'secret' })}`, {
      headers: authorization === undefined ? {} : { authorization },
    });
  return { ...s, asked, check };
}

async function assertRefused(r: Response, what: string) {
  assert.equal(r.status, 401, what);
  assert.equal(r.headers.get('www-authenticate'), 'Basic realm="gatehouse"', what);
  assert.equal(r.headers.get('content-type'), 'text/plain', what);
  assert.equal(await r.text(), 'unauthorized', what);
}

test('Basic credentials: anything but exactly "Basic <credentials>" is a 401 and never reaches the script', async (t) => {
  const s = await start(t, CREDENTIALS);
  const attacks: [string, string | undefined][] = [
    ['no header', undefined],
    ['valid credentials after another scheme', `Bearer x Basic ${VALID}`],
    ['valid credentials glued to other text', `xBasic ${VALID}`],
    ['no space after the scheme', `Basic${VALID}`],
    ['the scheme alone', 'Basic'],
    ['text after the padding', `Basic ${VALID}junk`],
    ['a second word after the credentials', `Basic ${VALID} junk`],
    ['a symbol after the credentials', `Basic ${VALID}!`],
    ['the credentials unencoded', `Basic ${CREDENTIALS}`],
    ['a wrong password', `Basic ${b64('prosody:wrong')}`],
    ['a prefix of the password', `Basic ${b64('prosody:s3cret:with:colon')}`],
    ['the password with more after it', `Basic ${b64(`${CREDENTIALS}x`)}`],
  ];
  for (const [i, [what, header]] of attacks.entries()) await assertRefused(await s.check(`attack${i}`, header), what);
  assert.deepEqual(s.asked(), [], 'the script was asked');
  const refusals = s.log.entries.filter((e) => e.msg === 'auth API call refused: bad or missing credentials');
  assert.equal(refusals.length, attacks.length);
  assert.ok(refusals.every((e) => e.level === 'warn' && e.obj['url'] === '/auth/check_password' && e.obj['address'] === '127.0.0.1'));
  // Positive control: the exact header gets through, and the script is asked.
  const ok = await s.check('control', `Basic ${VALID}`);
  assert.equal(ok.status, 200);
  assert.equal(await ok.text(), 'true');
  assert.deepEqual(s.asked(), ['auth:control:localhost:secret']);
  assert.ok(!s.log.text().includes('s3cret') && !s.log.text().includes(VALID), 'the credentials were logged');
});

test('Basic credentials: the scheme in any case (RFC 7617 §2) and one or more spaces before the credentials (RFC 7235 §2.1)', async (t) => {
  const s = await start(t, CREDENTIALS);
  const accepted = [`Basic ${VALID}`, `basic ${VALID}`, `BASIC ${VALID}`, `bAsIc ${VALID}`, `Basic   ${VALID}`];
  for (const [i, header] of accepted.entries()) {
    const r = await s.check(`user${i}`, header);
    assert.equal(r.status, 200, header);
    assert.equal(await r.text(), 'true', header);
  }
  assert.deepEqual(s.asked(), accepted.map((_, i) => `auth:user${i}:localhost:secret`));
  assert.ok(!s.log.entries.some((e) => e.msg === 'auth API call refused: bad or missing credentials'));
});

test('Basic credentials: padding of none, one or two "=" is accepted, and only at the end', async (t) => {
  // 6, 7 and 26 bytes: base64 with no, two and one "=".
  for (const credentials of ['ab:cde', 'ab:cdef', CREDENTIALS]) {
    const s = await start(t, credentials);
    const ok = await s.check('padded', `Basic ${b64(credentials)}`);
    assert.equal(ok.status, 200, credentials);
    assert.equal(await ok.text(), 'true', credentials);
    await assertRefused(await s.check('twice', `Basic ${b64(credentials)}${b64(credentials)}`), `${credentials}: twice`);
    assert.deepEqual(s.asked(), ['auth:padded:localhost:secret'], credentials);
  }
});
