import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ejabberd, generic, PARTIAL, YES } from '../../../src/extauth/wire/protocol.js';

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
