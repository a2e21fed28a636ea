import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tabEscape, tabUnescape } from '../../src/dovecot/escape.js';
import { login, plain } from '../../src/dovecot/mechanisms.js';
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
