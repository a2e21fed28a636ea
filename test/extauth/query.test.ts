import assert from 'node:assert/strict';
import { test } from 'node:test';
import { COMMANDS, DEFAULT_QUERY_LIMITS, encodeQuery, parseQuery, takesPassword, validateQuery, type Query } from '../../src/extauth/query.js';

const limits = { maxFieldBytes: 1023, maxQueryBytes: 4096 };

function rejects(q: Query): string | undefined {
  try {
    validateQuery(q, limits);
    return undefined;
  } catch (err) {
    return `${(err as { code: string }).code}/${(err as { field: string }).field}`;
  }
}

test('user and host: non-empty, no colon, CR, LF or NUL, well-formed, bounded', () => {
  const base = { command: 'isuser' as const, host: 'localhost' };
  assert.equal(rejects({ ...base, user: 'alice' }), undefined);
  assert.equal(rejects({ ...base, user: 'ä€𝄞' }), undefined);
  for (const user of ['', 'a:b', 'a\nb', 'a\rb', 'a\0b', 'a\ud800b', 'x'.repeat(1024)]) {
    assert.equal(rejects({ ...base, user }), 'ERR_EXTAUTH_INVALID_INPUT/user', JSON.stringify(user));
  }
  assert.equal(rejects({ command: 'isuser', user: 'a', host: 'h:1' }), 'ERR_EXTAUTH_INVALID_INPUT/host');
  assert.equal(rejects({ command: 'isuser', user: 'a', host: '' }), 'ERR_EXTAUTH_INVALID_INPUT/host');
});

test('password: colons, UTF-8 and control characters other than CR, LF, NUL pass', () => {
  const base = { command: 'auth' as const, user: 'a', host: 'h' };
  for (const password of ['a:b:c', 'pässwörd€', '\x03\x1b\x7f\t', ' ', '']) {
    assert.equal(rejects({ ...base, password }), undefined, JSON.stringify(password));
  }
  for (const password of ['x\nsetpass:admin:h:owned', 'x\r', '\0', '\ud83d']) {
    assert.equal(rejects({ ...base, password }), 'ERR_EXTAUTH_INVALID_INPUT/password', JSON.stringify(password));
  }
});

test('the whole query is bounded in bytes, UTF-8 counted', () => {
  const q = (password: string): Query => ({ command: 'auth', user: 'a', host: 'h', password });
  // "auth:a:h:" is 9 bytes.
  assert.equal(rejects(q('x'.repeat(4096 - 9))), undefined);
  assert.equal(rejects(q('x'.repeat(4096 - 8))), 'ERR_EXTAUTH_INVALID_INPUT/query');
  assert.equal(rejects(q('€'.repeat(1500))), 'ERR_EXTAUTH_INVALID_INPUT/query');
});

test('misuse is a TypeError, not an input error', () => {
  assert.throws(() => validateQuery({ command: 'auth', user: 'a', host: 'h' } as Query), TypeError);
  assert.throws(() => validateQuery({ command: 'isuser', user: 'a', host: 'h', password: 'x' }), TypeError);
  assert.throws(() => validateQuery({ command: 'isuser', user: 1, host: 'h' } as unknown as Query), TypeError);
});

test('encode and parse round-trip, the password keeping its colons', () => {
  const q: Query = { command: 'auth', user: 'älice', host: 'example.com', password: 'a:b::c€' };
  assert.deepEqual(encodeQuery(q), Buffer.from('auth:älice:example.com:a:b::c€'));
  assert.deepEqual(parseQuery(encodeQuery(q)), q);
  assert.deepEqual(parseQuery(Buffer.from('removeuser:bob:h')), { command: 'removeuser', user: 'bob', host: 'h' });
});

test('parse refuses malformed queries with a typed error', () => {
  const code = (s: string | Buffer): string => {
    const r = parseQuery(typeof s === 'string' ? Buffer.from(s) : s);
    return r instanceof Error ? `${r.code}/${r.field}` : 'parsed';
  };
  assert.equal(code('auth:a:h'), 'ERR_EXTAUTH_INVALID_INPUT/query');
  assert.equal(code('auth'), 'ERR_EXTAUTH_INVALID_INPUT/query');
  assert.equal(code('drop:a:h'), 'ERR_EXTAUTH_UNSUPPORTED/command');
  assert.equal(code('isuser:a:h:extra'), 'ERR_EXTAUTH_INVALID_INPUT/host');
  assert.equal(code(Buffer.from([0x61, 0x75, 0x74, 0x68, 0x3a, 0xff, 0x3a, 0x68, 0x3a, 0x70])), 'ERR_EXTAUTH_INVALID_INPUT/query');
  assert.equal(code('isuser::h'), 'ERR_EXTAUTH_INVALID_INPUT/user');
  assert.equal(code('__proto__:a:h'), 'ERR_EXTAUTH_UNSUPPORTED/command');
});

test('attack: a query the bridge receives with a field missing is refused, never re-split into other fields', () => {
  // "auth:alice" must not become user "alic" on host "auth" with password "alice".
  for (const raw of ['auth:alice', 'auth:alice:localhost', 'isuser:alice', 'setpass:alice', 'removeuser3:bob:localhost']) {
    const r = parseQuery(Buffer.from(raw));
    assert.ok(r instanceof Error, `${raw} parsed as ${JSON.stringify(r)}`);
    assert.equal((r as { code: string }).code, 'ERR_EXTAUTH_INVALID_INPUT', raw);
  }
  assert.deepEqual(parseQuery(Buffer.from('auth:alice:localhost:')), { command: 'auth', user: 'alice', host: 'localhost', password: '' });
});

test('attack: a query with bytes that are not UTF-8 is refused, not decoded with replacement characters', () => {
  const raw = Buffer.concat([Buffer.from('auth:al'), Buffer.from([0xff, 0xfe]), Buffer.from(':localhost:pw')]);
  const r = parseQuery(raw);
  assert.ok(r instanceof Error, JSON.stringify(r));
  assert.equal((r as { code: string }).code, 'ERR_EXTAUTH_INVALID_INPUT');
  assert.equal((r as Error).message, 'query is not well-formed UTF-8');
});

test('callers: an unknown command is refused as invalid input; a missing, extra or non-string field is a TypeError', () => {
  const evil = { command: 'auth\nsetpass', user: 'alice', host: 'localhost', password: 'x' } as unknown as Query;
  assert.equal(rejects(evil), 'ERR_EXTAUTH_INVALID_INPUT/command');
  assert.throws(() => validateQuery({ command: 'auth', user: 'alice', host: 'localhost' } as Query, limits), TypeError);
  assert.throws(() => validateQuery({ command: 'isuser', user: 'alice', host: 'localhost', password: 'x' } as Query, limits), TypeError);
  assert.throws(() => validateQuery({ command: 'isuser', user: 42, host: 'localhost' } as unknown as Query, limits), TypeError);
  assert.throws(() => validateQuery({ command: 'isuser', user: 'alice', host: null } as unknown as Query, limits), TypeError);
});

test('queries without a password end at the host; with one, the password follows', () => {
  assert.equal(encodeQuery({ command: 'isuser', user: 'alice', host: 'localhost' }).toString(), 'isuser:alice:localhost');
  assert.equal(encodeQuery({ command: 'removeuser', user: 'bob', host: 'h' }).toString(), 'removeuser:bob:h');
  assert.equal(encodeQuery({ command: 'auth', user: 'alice', host: 'localhost', password: 'p:ä' }).toString(), 'auth:alice:localhost:p:ä');
});

test('takesPassword: the four commands that carry a password, and only those', () => {
  // The bridge and the engine both decide from this whether a fourth field exists.
  assert.deepEqual(
    COMMANDS.map((c) => [c, takesPassword(c)]),
    [
      ['auth', true],
      ['isuser', false],
      ['setpass', true],
      ['tryregister', true],
      ['removeuser', false],
      ['removeuser3', true],
    ],
  );
});

test('without explicit limits, the default bounds apply: 1023 bytes a field, 4096 a query', () => {
  assert.deepEqual(DEFAULT_QUERY_LIMITS, { maxFieldBytes: 1023, maxQueryBytes: 4096 });
  assert.ok(Object.isFrozen(DEFAULT_QUERY_LIMITS));
  const isuser = (user: string, host = 'h'): Query => ({ command: 'isuser', user, host });
  assert.equal(validateQuery(isuser('x'.repeat(1023))), `isuser:${'x'.repeat(1023)}:h`);
  assert.throws(() => validateQuery(isuser('x'.repeat(1024))), { code: 'ERR_EXTAUTH_INVALID_INPUT', field: 'user' });
  // 341 three-byte characters are 1023 bytes; one more is over, though only 342 UTF-16 units.
  assert.doesNotThrow(() => validateQuery(isuser('h', '€'.repeat(341))));
  assert.throws(() => validateQuery(isuser('h', '€'.repeat(342))), { code: 'ERR_EXTAUTH_INVALID_INPUT', field: 'host' });
  // "auth:a:h:" is 9 bytes.
  const auth = (password: string): Query => ({ command: 'auth', user: 'a', host: 'h', password });
  assert.doesNotThrow(() => validateQuery(auth('x'.repeat(4096 - 9))));
  assert.throws(() => validateQuery(auth('x'.repeat(4096 - 8))), { code: 'ERR_EXTAUTH_INVALID_INPUT', field: 'query' });
  // A parsed query is bounded by the same defaults.
  assert.equal((parseQuery(Buffer.from(`isuser:${'x'.repeat(1024)}:h`)) as { field: string }).field, 'user');
});

test('each refusal says what is wrong: the message is what an operator reads in the log', () => {
  const refused = (q: Query, field: string, message: string): void => {
    assert.throws(() => validateQuery(q, limits), { name: 'ExtauthError', code: 'ERR_EXTAUTH_INVALID_INPUT', field, message }, message);
  };
  const isuser = (user: string, host = 'h'): Query => ({ command: 'isuser', user, host });
  refused(isuser(''), 'user', 'user is empty');
  refused(isuser('a', ''), 'host', 'host is empty');
  refused(isuser('a:b'), 'user', "user contains ':', CR, LF or NUL");
  refused(isuser('a', 'h\nisuser:b'), 'host', "host contains ':', CR, LF or NUL");
  refused(isuser('a\ud800'), 'user', 'user is not well-formed Unicode');
  refused(isuser('x'.repeat(1024)), 'user', 'user is longer than 1023 bytes');
  refused(isuser('a', 'x'.repeat(1024)), 'host', 'host is longer than 1023 bytes');
  refused({ command: 'auth\nsetpass', user: 'a', host: 'h' } as unknown as Query, 'command', 'unknown command');
  const auth = (password: string): Query => ({ command: 'auth', user: 'a', host: 'h', password });
  refused(auth('x\nsetpass:admin:h:owned'), 'password', 'password contains CR, LF or NUL');
  refused(auth('\udc00'), 'password', 'password is not well-formed Unicode');
  refused(auth('x'.repeat(4096)), 'query', 'query is longer than 4096 bytes');
  // The bound in the message is the configured one.
  assert.throws(() => validateQuery(isuser('abcde'), { maxFieldBytes: 4, maxQueryBytes: 100 }), { message: 'user is longer than 4 bytes' });
  assert.throws(() => validateQuery(isuser('ab', 'cd'), { maxFieldBytes: 4, maxQueryBytes: 10 }), { message: 'query is longer than 10 bytes' });
});

test('misuse names the mistake in its TypeError, not in some later property access', () => {
  const misuse = (q: unknown, message: string): void => {
    assert.throws(() => validateQuery(q as Query, limits), (err: unknown) => err instanceof TypeError && err.message === message, message);
  };
  misuse({ command: 'isuser', user: 42, host: 'h' }, 'user must be a string');
  misuse({ command: 'isuser', user: null, host: 'h' }, 'user must be a string');
  misuse({ command: 'isuser', user: 'a', host: ['h'] }, 'host must be a string');
  misuse({ command: 'auth', user: 'a', host: 'h' }, 'auth needs a password string');
  misuse({ command: 'setpass', user: 'a', host: 'h', password: 7 }, 'setpass needs a password string');
  misuse({ command: 'isuser', user: 'a', host: 'h', password: '' }, 'isuser takes no password');
});

test('parse: each malformed query is refused with its field and the reason', () => {
  const parsed = (raw: string): unknown => {
    const r = parseQuery(Buffer.from(raw));
    return r instanceof Error ? { code: r.code, field: r.field, message: r.message } : r;
  };
  assert.deepEqual(parsed('auth'), { code: 'ERR_EXTAUTH_INVALID_INPUT', field: 'query', message: 'query has no fields' });
  assert.deepEqual(parsed('drop:a:h'), { code: 'ERR_EXTAUTH_UNSUPPORTED', field: 'command', message: 'unknown command' });
  assert.deepEqual(parsed('isuser:alice'), { code: 'ERR_EXTAUTH_INVALID_INPUT', field: 'query', message: 'query has too few fields' });
  assert.deepEqual(parsed('auth:alice:localhost'), { code: 'ERR_EXTAUTH_INVALID_INPUT', field: 'query', message: 'query has too few fields' });
  assert.deepEqual(parsed('isuser:a:h:x'), { code: 'ERR_EXTAUTH_INVALID_INPUT', field: 'host', message: "host contains ':', CR, LF or NUL" });
});

test('attack: a query that starts with a UTF-8 byte order mark is not read as the command after it', () => {
  // A decoder that strips the BOM would let "\uFEFFauth" pass as auth: bytes the server never
  // meant as this command must not be treated as it.
  const raw = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('auth:alice:localhost:pw')]);
  const r = parseQuery(raw);
  assert.ok(r instanceof Error, JSON.stringify(r));
  assert.equal(r.code, 'ERR_EXTAUTH_UNSUPPORTED');
  assert.equal(r.field, 'command');
  // A BOM inside a field is kept as the character it is.
  assert.deepEqual(parseQuery(Buffer.from('isuser:\ufeffalice:h')), { command: 'isuser', user: '\ufeffalice', host: 'h' });
});
