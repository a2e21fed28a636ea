import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ejabberd, generic, PARTIAL, PROTOCOL_NAMES, wireProtocol, YES } from '../../../src/extauth/wire/protocol.js';

/** Feed chunks to a fresh reply reader; a reply starts a new one (one reply per query). */
function replies(p: typeof generic, chunks: Buffer[]): (boolean | string)[] {
  let r = p.createReplyReader(16);
  const out: (boolean | string)[] = [];
  try {
    for (const c of chunks) {
      const result = r.read(c);
      if (result !== PARTIAL) {
        out.push(result === YES);
        r = p.createReplyReader(16);
      }
    }
  } catch (err) {
    out.push((err as { code: string }).code);
  }
  return out;
}

test('generic replies: exactly 1 or 0, with LF or CRLF', () => {
  assert.deepEqual(replies(generic, [Buffer.from('1\n')]), [true]);
  assert.deepEqual(replies(generic, [Buffer.from('0\r\n')]), [false]);
  assert.deepEqual(replies(generic, [Buffer.from('1'), Buffer.from('\r'), Buffer.from('\n')]), [true]);
});

test('generic replies: anything else is ERR_WIRE_BAD_REPLY, never yes', () => {
  for (const bad of ['yes\n', '\n', '10\n', '1 \n', ' 1\n', 'error: db down\n', 'true\n', '01\n', '1\r\r\n', '\x001\n']) {
    assert.deepEqual(replies(generic, [Buffer.from(bad)]), ['ERR_WIRE_BAD_REPLY'], JSON.stringify(bad));
  }
  assert.deepEqual(replies(generic, [Buffer.alloc(17, 0x31)]), ['ERR_WIRE_LINE_TOO_LONG']);
});

test('anything after a reply in the same read is ERR_WIRE_EXTRA_DATA, never left for the next query', () => {
  for (const extra of ['1\n1\n', '0\n1\n', '1\n1', '1\r\n\n', '0\nx']) {
    assert.deepEqual(replies(generic, [Buffer.from(extra)]), ['ERR_WIRE_EXTRA_DATA'], JSON.stringify(extra));
  }
  // Split so that the reply completes in a chunk that also carries more.
  assert.deepEqual(replies(generic, [Buffer.from('1'), Buffer.from('\n1\n')]), ['ERR_WIRE_EXTRA_DATA']);
  for (const extra of [[0, 2, 0, 0, 0, 2, 0, 1], [0, 2, 0, 1, 0], [0, 2, 0, 1, 0, 2]]) {
    assert.deepEqual(replies(ejabberd, [Buffer.from(extra)]), ['ERR_WIRE_EXTRA_DATA'], extra.join(' '));
  }
  assert.deepEqual(replies(ejabberd, [Buffer.from([0, 2]), Buffer.from([0, 1, 0, 2, 0, 1])]), ['ERR_WIRE_EXTRA_DATA']);
});

test('ejabberd replies: exactly 00 02 00 01 or 00 02 00 00, at any split', () => {
  const yes = Buffer.from([0, 2, 0, 1]);
  for (let i = 0; i <= 4; i++) assert.deepEqual(replies(ejabberd, [yes.subarray(0, i), yes.subarray(i)]), [true]);
  assert.deepEqual(replies(ejabberd, [Buffer.from([0, 2, 0, 0])]), [false]);
});

test('ejabberd replies: wrong length, wrong value, empty frame are bad replies', () => {
  for (const bad of [[0, 2, 0, 2], [0, 2, 1, 1], [0, 1, 1], [0, 3, 0, 0, 1], [0, 0], [1, 0, 0, 1], [0x31, 0x0a]]) {
    assert.deepEqual(replies(ejabberd, [Buffer.from(bad)]), ['ERR_WIRE_BAD_REPLY'], bad.join(' '));
  }
});

test('query readers: generic reports overlong lines as null and stays in step', () => {
  const r = generic.createQueryReader(10);
  const out: (string | null)[] = [];
  r.push(Buffer.from('auth:a:b:c\nauth:aaaaaaaaaa:b:c\nisuser:a:b\n'), (q) => out.push(q && q.toString()));
  assert.deepEqual(out, ['auth:a:b:c', null, 'isuser:a:b']);
});

test('query readers: ejabberd reports empty and oversized frames as null and stays in step', () => {
  const r = ejabberd.createQueryReader(10);
  const out: (string | null)[] = [];
  const frames = [Buffer.from([0, 0]), ejabberd.encodeQuery(Buffer.from('a'.repeat(11))), ejabberd.encodeQuery(Buffer.from('isuser:a:b'))];
  r.push(Buffer.concat(frames), (q) => out.push(q && q.toString()));
  assert.deepEqual(out, [null, null, 'isuser:a:b']);
});

test('replies encode as the protocols say', () => {
  assert.deepEqual(generic.encodeReply(true), Buffer.from('1\n'));
  assert.deepEqual(generic.encodeReply(false), Buffer.from('0\n'));
  assert.deepEqual(ejabberd.encodeReply(true), Buffer.from([0, 2, 0, 1]));
  assert.deepEqual(ejabberd.encodeReply(false), Buffer.from([0, 2, 0, 0]));
});

/** The error a fresh reply reader throws for `chunks`, as name, code and message. */
function replyError(p: typeof generic, chunks: (string | number[])[]): { name: string; code: string; message: string } | undefined {
  const r = p.createReplyReader(16);
  try {
    for (const c of chunks) r.read(typeof c === 'string' ? Buffer.from(c) : Buffer.from(c));
  } catch (err) {
    const { name, code, message } = err as { name: string; code: string; message: string };
    return { name, code, message };
  }
  return undefined;
}

test('the protocols by name: PROTOCOL_NAMES lists both, wireProtocol returns each', () => {
  assert.deepEqual(PROTOCOL_NAMES, ['generic', 'ejabberd']);
  assert.equal(wireProtocol('generic'), generic);
  assert.equal(wireProtocol('ejabberd'), ejabberd);
  assert.deepEqual(
    PROTOCOL_NAMES.map((name) => wireProtocol(name).name),
    ['generic', 'ejabberd'],
  );
});

test('frameText frames a query text exactly as encodeQuery frames its UTF-8 bytes', () => {
  for (const p of [generic, ejabberd]) {
    for (const text of ['', 'a', 'isuser:alice:localhost', 'auth:älice:h:p€𝄞:x', 'x'.repeat(300)]) {
      assert.deepEqual(p.frameText(text), p.encodeQuery(Buffer.from(text, 'utf8')), `${p.name} ${JSON.stringify(text)}`);
    }
  }
  assert.deepEqual(generic.frameText('isuser:a:h'), Buffer.from('isuser:a:h\n'));
  assert.deepEqual(ejabberd.frameText('isuser:a:h'), Buffer.from([0, 10, ...Buffer.from('isuser:a:h')]));
});

test('ejabberd frameText: 65535 bytes fit, one more is a RangeError, counted in UTF-8 bytes', () => {
  const max = 'x'.repeat(65535);
  assert.deepEqual(ejabberd.frameText(max), ejabberd.encodeQuery(Buffer.from(max)));
  const refusal = { name: 'RangeError', message: 'frame payload exceeds 65535 bytes' };
  assert.throws(() => ejabberd.frameText('x'.repeat(65536)), refusal);
  // 32768 two-byte characters: far fewer than 65535 UTF-16 units, but 65536 bytes.
  assert.throws(() => ejabberd.frameText('é'.repeat(32768)), refusal);
  assert.throws(() => ejabberd.encodeQuery(Buffer.alloc(65536)), refusal);
});

test('attack: a generic reply reader holding bytes never answers from the next chunk alone', () => {
  // "x" then "1\n" is the line "x1": a bad reply, however much the last chunk looks like yes.
  assert.deepEqual(replies(generic, [Buffer.from('x'), Buffer.from('1\n')]), ['ERR_WIRE_BAD_REPLY']);
  assert.deepEqual(replies(generic, [Buffer.from('0'), Buffer.from('1\r\n')]), ['ERR_WIRE_BAD_REPLY']);
  // A two-byte chunk without its newline is not a reply yet: "10" then "\n" is the line "10".
  assert.deepEqual(replies(generic, [Buffer.from('10'), Buffer.from('\n')]), ['ERR_WIRE_BAD_REPLY']);
  assert.deepEqual(replies(generic, [Buffer.from('1\r'), Buffer.from('\n')]), [true]);
  // "1\r\r" then "\n" is the line "1\r" (one CR dropped), not yes.
  assert.deepEqual(replies(generic, [Buffer.from('1\r\r'), Buffer.from('\n')]), ['ERR_WIRE_BAD_REPLY']);
});

test('generic replies: any split of a reply reads as the whole, good or bad', () => {
  const cases: [string, boolean | string][] = [
    ['1\n', true],
    ['0\n', false],
    ['1\r\n', true],
    ['0\r\n', false],
    ['2\n', 'ERR_WIRE_BAD_REPLY'],
    ['x\r\n', 'ERR_WIRE_BAD_REPLY'],
    ['\n\n', 'ERR_WIRE_BAD_REPLY'],
    ['\r\n', 'ERR_WIRE_BAD_REPLY'],
    ['x1\n', 'ERR_WIRE_BAD_REPLY'],
    ['10\n', 'ERR_WIRE_BAD_REPLY'],
    ['1\r\r\n', 'ERR_WIRE_BAD_REPLY'],
  ];
  for (const [reply, expected] of cases) {
    const b = Buffer.from(reply);
    for (let i = 0; i <= b.length; i++) {
      assert.deepEqual(replies(generic, [b.subarray(0, i), b.subarray(i)]), [expected], `${JSON.stringify(reply)} split at ${i}`);
    }
  }
});

test('generic bad replies are WireErrors with the message of their code', () => {
  const bad = { name: 'WireError', code: 'ERR_WIRE_BAD_REPLY', message: 'reply is not a valid yes/no answer' };
  assert.deepEqual(replyError(generic, ['2\n']), bad);
  assert.deepEqual(replyError(generic, ['2', '\n']), bad);
  assert.deepEqual(replyError(generic, ['yes\n']), bad);
  assert.deepEqual(replyError(generic, ['1\n1\n']), { name: 'WireError', code: 'ERR_WIRE_EXTRA_DATA', message: 'more than one reply for one query' });
});

test('attack: an ejabberd reply reader holding bytes never answers from the next chunk alone', () => {
  // Each of these leaves bytes pending, then sends what would alone be a whole "yes".
  // Read together they are an empty frame, a payload 00 02, a length of 512: all bad.
  for (const held of [[0], [0, 2], [0, 2, 0]]) {
    assert.deepEqual(replies(ejabberd, [Buffer.from(held), Buffer.from([0, 2, 0, 1])]), ['ERR_WIRE_BAD_REPLY'], held.join(' '));
  }
});

test('ejabberd replies: four bytes that are not exactly 00 02 00 0x are bad, whatever byte differs', () => {
  for (const bad of [[1, 2, 0, 1], [0, 1, 0, 1], [0, 0, 0, 1], [0, 2, 1, 0], [0, 2, 1, 1], [0, 2, 0, 2], [0, 2, 0, 0x31]]) {
    assert.deepEqual(replies(ejabberd, [Buffer.from(bad)]), ['ERR_WIRE_BAD_REPLY'], bad.join(' '));
  }
});

test('ejabberd replies: any split of a reply reads as the whole, good or bad', () => {
  const cases: [number[], boolean | string][] = [
    [[0, 2, 0, 1], true],
    [[0, 2, 0, 0], false],
    [[0, 2, 0, 2], 'ERR_WIRE_BAD_REPLY'],
    [[0, 2, 1, 0], 'ERR_WIRE_BAD_REPLY'],
    [[0, 2, 1, 1], 'ERR_WIRE_BAD_REPLY'],
    [[0, 2, 0xff, 0xff], 'ERR_WIRE_BAD_REPLY'],
  ];
  for (const [reply, expected] of cases) {
    const b = Buffer.from(reply);
    for (let i = 0; i <= b.length; i++) {
      assert.deepEqual(replies(ejabberd, [b.subarray(0, i), b.subarray(i)]), [expected], `${reply.join(' ')} split at ${i}`);
    }
  }
});

test('ejabberd bad replies: a framing error says it was in a reply; a bad value or extra data keeps its own message', () => {
  const bad = (message: string) => ({ name: 'WireError', code: 'ERR_WIRE_BAD_REPLY', message });
  assert.deepEqual(replyError(ejabberd, [[0, 3]]), bad('frame exceeds the maximum length in reply'));
  assert.deepEqual(replyError(ejabberd, [[1, 2, 0, 1]]), bad('frame exceeds the maximum length in reply'));
  assert.deepEqual(replyError(ejabberd, [[0, 0]]), bad('zero-length frame in reply'));
  assert.deepEqual(replyError(ejabberd, [[0, 2, 1, 1]]), bad('reply is not a valid yes/no answer'));
  assert.deepEqual(replyError(ejabberd, [[0, 2], [0, 2]]), bad('reply is not a valid yes/no answer'));
  assert.deepEqual(replyError(ejabberd, [[0, 2, 0, 2]]), bad('reply is not a valid yes/no answer'));
  assert.deepEqual(replyError(ejabberd, [[0, 2, 0, 1, 0]]), {
    name: 'WireError',
    code: 'ERR_WIRE_EXTRA_DATA',
    message: 'more than one reply for one query',
  });
});

test('query readers: pending counts held bytes; atBoundary says whether the next byte starts a query', () => {
  const g = generic.createQueryReader(10);
  const out: (string | null)[] = [];
  const onQuery = (q: Buffer | null) => out.push(q && q.toString());
  assert.equal(g.pending, 0);
  assert.equal(g.atBoundary, true);
  g.push(Buffer.from('isuser'), onQuery);
  assert.equal(g.pending, 6);
  assert.equal(g.atBoundary, false);
  g.push(Buffer.from(':a:b\n'), onQuery);
  assert.equal(g.pending, 0);
  assert.equal(g.atBoundary, true);
  // An overlong query being skipped holds nothing, but the reader is inside it.
  g.push(Buffer.from('x'.repeat(11)), onQuery);
  assert.equal(g.pending, 0);
  assert.equal(g.atBoundary, false);
  g.push(Buffer.from('\n'), onQuery);
  assert.equal(g.atBoundary, true);
  assert.deepEqual(out, ['isuser:a:b', null]);

  const e = ejabberd.createQueryReader(10);
  out.length = 0;
  assert.equal(e.pending, 0);
  assert.equal(e.atBoundary, true);
  e.push(Buffer.from([0]), onQuery);
  assert.equal(e.pending, 1);
  assert.equal(e.atBoundary, false);
  e.push(Buffer.from([10, ...Buffer.from('isuser')]), onQuery);
  assert.equal(e.pending, 8);
  assert.equal(e.atBoundary, false);
  e.push(Buffer.from(':a:b'), onQuery);
  assert.equal(e.pending, 0);
  assert.equal(e.atBoundary, true);
  assert.deepEqual(out, ['isuser:a:b']);
});
