import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { tabEscape, tabUnescape } from '../../src/dovecot/escape.js';
import { login, MECHANISMS, plain } from '../../src/dovecot/mechanisms.js';
import { splitUsername } from '../../src/dovecot/server.js';

test('tab-escaping round-trips every special character', () => {
  const s = 'a\tb\nc\rd\0e\x01f\\g';
  assert.equal(tabEscape(s), 'a\x01tb\x01nc\x01rd\x010e\x011f\\g');
  assert.equal(tabUnescape(tabEscape(s)), s);
  assert.equal(tabUnescape('x\x01ly\x01qz'), 'x\nyqz'); // \001l is LF too; unknown escapes stand for themselves
  assert.equal(tabEscape('plain'), 'plain');
});

test('PLAIN: authzid must be empty or equal the login; malformed messages fail', () => {
  const m = (s: string) => plain().start(Buffer.from(s));
  assert.deepEqual(m('\0alice\0pw'), { kind: 'credentials', username: 'alice', password: 'pw' });
  assert.deepEqual(m('alice\0alice\0p:w\0'), { kind: 'fail', reason: 'Invalid PLAIN message' });
  assert.deepEqual(m('alice\0alice\0p:w'), { kind: 'credentials', username: 'alice', password: 'p:w' });
  assert.equal(m('admin\0alice\0pw').kind, 'fail');
  assert.equal(m('alice-pw').kind, 'fail');
  assert.equal(plain().start(Buffer.from([0, 0x61, 0, 0xff])).kind, 'fail');
  assert.deepEqual(plain().start(undefined), { kind: 'challenge', data: Buffer.alloc(0) });
});

test('LOGIN asks for the username, then the password', () => {
  const m = login();
  assert.deepEqual(m.start(undefined), { kind: 'challenge', data: Buffer.from('Username:') });
  assert.deepEqual(m.next(Buffer.from('alice')), { kind: 'challenge', data: Buffer.from('Password:') });
  assert.deepEqual(m.next(Buffer.from('pässwörd')), { kind: 'credentials', username: 'alice', password: 'pässwörd' });
  const initial = login();
  assert.deepEqual(initial.start(Buffer.from('bob')), { kind: 'challenge', data: Buffer.from('Password:') });
});

test('usernames split at the last @, the host lowercased; bare names get the default host', () => {
  assert.deepEqual(splitUsername('alice@Example.COM', 'localhost'), { user: 'alice', host: 'example.com' });
  assert.deepEqual(splitUsername('a@b@c.example', 'localhost'), { user: 'a@b', host: 'c.example' });
  assert.deepEqual(splitUsername('alice', 'localhost'), { user: 'alice', host: 'localhost' });
  assert.deepEqual(splitUsername('@x', 'localhost'), { user: '@x', host: 'localhost' });
});

test('tab-escaping: each special character alone, and nothing else escaped', () => {
  const pairs: [string, string][] = [
    ['\0', '\x010'],
    ['\x01', '\x011'],
    ['\t', '\x01t'],
    ['\r', '\x01r'],
    ['\n', '\x01n'],
  ];
  for (const [raw, escaped] of pairs) {
    assert.equal(tabEscape(raw), escaped, JSON.stringify(raw));
    assert.equal(tabEscape(`x${raw}y`), `x${escaped}y`, JSON.stringify(raw));
    assert.equal(tabUnescape(escaped), raw, JSON.stringify(escaped));
  }
  // Characters outside the BMP and other controls pass through whole.
  assert.equal(tabEscape('\t€😀\x02\x7f\\'), '\x01t€😀\x02\x7f\\');
  assert.equal(tabEscape(''), '');
});

test('tab-unescaping: \\001 at the end stands for itself; an unknown escape is its character', () => {
  assert.equal(tabUnescape('a\x01'), 'a\x01');
  assert.equal(tabUnescape('\x01'), '\x01');
  assert.equal(tabUnescape('\x01\x01'), '\x01');
  assert.equal(tabUnescape('\x01q\x01T\x01N'), 'qTN');
  assert.equal(tabUnescape('a\x01lb'), 'a\nb');
  assert.equal(tabUnescape('\x01t\x01t'), '\t\t');
  assert.equal(tabUnescape('plain'), 'plain');
});

test('tab-escaping: any string round-trips, and its escaped form holds no TAB, CR, LF or NUL', () => {
  fc.assert(
    fc.property(fc.string({ unit: fc.constantFrom('\0', '\x01', '\t', '\r', '\n', 'a', 'é', '😀', 't', '0', 'n') }), (s) => {
      const e = tabEscape(s);
      assert.ok(!/[\0\t\r\n]/.test(e));
      assert.equal(tabUnescape(e), s);
    }),
  );
});

test('PLAIN: invalid UTF-8 in any one of the three fields is a FAIL', () => {
  const bad = Buffer.from([0xc3, 0x28]);
  const msg = (...fields: Buffer[]) => Buffer.concat([fields[0]!, Buffer.from([0]), fields[1]!, Buffer.from([0]), fields[2]!]);
  const ok = Buffer.from('alice');
  const pw = Buffer.from('secret');
  for (const m of [msg(bad, ok, pw), msg(Buffer.alloc(0), bad, pw), msg(Buffer.alloc(0), ok, bad)]) {
    assert.deepEqual(plain().start(m), { kind: 'fail', reason: 'Invalid UTF-8 in PLAIN message' });
    assert.deepEqual(plain().next(m), { kind: 'fail', reason: 'Invalid UTF-8 in PLAIN message' });
  }
  assert.deepEqual(plain().next(msg(Buffer.alloc(0), Buffer.from('ünï'), Buffer.from('pä'))), { kind: 'credentials', username: 'ünï', password: 'pä' });
  // NULs: exactly two.
  for (const s of ['', '\0', 'a\0b', '\0\0\0', 'a\0b\0c\0d', '\0\0pw\0']) assert.deepEqual(plain().start(Buffer.from(s)), { kind: 'fail', reason: 'Invalid PLAIN message' }, JSON.stringify(s));
  assert.deepEqual(plain().start(Buffer.from('\0\0')), { kind: 'credentials', username: '', password: '' });
  assert.deepEqual(plain().start(Buffer.from('bob\0bob\0')), { kind: 'credentials', username: 'bob', password: '' });
  assert.deepEqual(plain().start(Buffer.from('Bob\0bob\0pw')), { kind: 'fail', reason: 'Authorization identity differs from the login' });
  // The NULs at every position: a one-byte authzid and login, a one-byte message part.
  assert.deepEqual(plain().start(Buffer.from('a\0a\0pw')), { kind: 'credentials', username: 'a', password: 'pw' });
  assert.deepEqual(plain().start(Buffer.from('\0a\0p')), { kind: 'credentials', username: 'a', password: 'p' });
  assert.deepEqual(plain().start(Buffer.from('b\0a\0p')), { kind: 'fail', reason: 'Authorization identity differs from the login' });
});

test('LOGIN: invalid UTF-8 in the username or the password is a FAIL', () => {
  const bad = Buffer.from([0xff, 0x61]);
  assert.deepEqual(login().start(bad), { kind: 'fail', reason: 'Invalid UTF-8 in username' });
  const m = login();
  assert.deepEqual(m.start(undefined), { kind: 'challenge', data: Buffer.from('Username:') });
  assert.deepEqual(m.next(bad), { kind: 'fail', reason: 'Invalid UTF-8 in username' });
  const p = login();
  assert.deepEqual(p.start(Buffer.from('alice')), { kind: 'challenge', data: Buffer.from('Password:') });
  assert.deepEqual(p.next(bad), { kind: 'fail', reason: 'Invalid UTF-8 in password' });
  // Each LOGIN exchange is its own: a second one starts with the username again.
  assert.deepEqual(login().start(Buffer.from('')), { kind: 'challenge', data: Buffer.from('Password:') });
  assert.deepEqual(login().next(Buffer.from('carol')), { kind: 'challenge', data: Buffer.from('Password:') });
});

test('the mechanism table offers PLAIN and LOGIN only, and cannot be changed', () => {
  assert.deepEqual(Object.keys(MECHANISMS).sort(), ['LOGIN', 'PLAIN']);
  assert.equal(MECHANISMS['PLAIN'], plain);
  assert.equal(MECHANISMS['LOGIN'], login);
  for (const name of ['toString', 'constructor', '__proto__', 'hasOwnProperty', 'valueOf']) assert.equal(MECHANISMS[name], undefined, name);
  assert.ok(Object.isFrozen(MECHANISMS));
});
