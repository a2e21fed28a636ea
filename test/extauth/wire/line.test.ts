import assert from 'node:assert/strict';
import { test } from 'node:test';
import { WireError } from '../../../src/extauth/wire/errors.js';
import { LineDecoder, encodeLine } from '../../../src/extauth/wire/line.js';

/** Decode `input` fed as the given chunks; returns the lines as strings. */
function decode(chunks: Buffer[], max = 100): string[] {
  const d = new LineDecoder(max);
  const out: string[] = [];
  for (const c of chunks) d.push(c, (l) => out.push(l.toString('latin1')));
  return out;
}

/** Every way of cutting `buf` into two or three pieces. */
function* splits(buf: Buffer): Generator<Buffer[]> {
  yield [buf];
  for (let i = 0; i <= buf.length; i++) {
    yield [buf.subarray(0, i), buf.subarray(i)];
    for (let j = i; j <= buf.length; j++) yield [buf.subarray(0, i), buf.subarray(i, j), buf.subarray(j)];
  }
}

test('one and two lines split at every byte offset decode the same', () => {
  const input = Buffer.from('1\r\n0\nauth:ä:h:p€\n');
  const expected = ['1', '0', 'auth:ä:h:p€'].map((s) => Buffer.from(s).toString('latin1'));
  let n = 0;
  for (const parts of splits(input)) {
    assert.deepEqual(decode(parts), expected, `split ${parts.map((p) => p.length).join('+')}`);
    n++;
  }
  assert.ok(n > 100);
});

test('a partial line is held until its newline; pending counts it', () => {
  const d = new LineDecoder(10);
  const out: string[] = [];
  d.push(Buffer.from('ab'), (l) => out.push(l.toString()));
  assert.equal(d.pending, 2);
  assert.equal(out.length, 0);
  d.push(Buffer.from('c\nd'), (l) => out.push(l.toString()));
  assert.deepEqual(out, ['abc']);
  assert.equal(d.pending, 1);
});

test('only one CR before LF is dropped; a lone CR is content', () => {
  assert.deepEqual(decode([Buffer.from('1\r\r\n')]), ['1\r']);
  assert.deepEqual(decode([Buffer.from('a\rb\n')]), ['a\rb']);
  assert.deepEqual(decode([Buffer.from('\n')]), ['']);
});

test('a line longer than the limit throws ERR_WIRE_LINE_TOO_LONG, even before its newline', () => {
  assert.deepEqual(decode([Buffer.from('12345\n')], 5), ['12345']);
  assert.throws(() => decode([Buffer.from('123456\n')], 5), { code: 'ERR_WIRE_LINE_TOO_LONG' });
  // Unbounded input without a newline fails as soon as it passes the limit: no buffering.
  const d = new LineDecoder(5);
  d.push(Buffer.from('123'), () => {});
  assert.throws(() => d.push(Buffer.from('456'), () => {}), (e: unknown) => e instanceof WireError && e.code === 'ERR_WIRE_LINE_TOO_LONG');
  // The CR of a CRLF is not counted against the limit.
  assert.deepEqual(decode([Buffer.from('12345\r'), Buffer.from('\n')], 5), ['12345']);
});

test('with onOverflow an overlong line is skipped and decoding resumes at the next line', () => {
  for (const parts of splits(Buffer.from('ok\n0123456789\nnext\n'))) {
    const d = new LineDecoder(5);
    const out: string[] = [];
    for (const p of parts) d.push(p, (l) => out.push(l.toString()), () => out.push('<overflow>'));
    assert.deepEqual(out, ['ok', '<overflow>', 'next'], `split ${parts.map((p) => p.length).join('+')}`);
  }
});

test('a line too long is a WireError named as such, with the message of its code', () => {
  assert.throws(() => decode([Buffer.from('123456\n')], 5), {
    name: 'WireError',
    code: 'ERR_WIRE_LINE_TOO_LONG',
    message: 'line exceeds the maximum length',
  });
});

test('atBoundary: true only when no partial line is held and none is being skipped', () => {
  const d = new LineDecoder(5);
  const out: string[] = [];
  const onLine = (l: Buffer) => out.push(l.toString());
  const onOverflow = () => out.push('<overflow>');
  assert.equal(d.atBoundary, true);
  d.push(Buffer.from('ab'), onLine, onOverflow);
  assert.equal(d.atBoundary, false);
  d.push(Buffer.from('c\n'), onLine, onOverflow);
  // The chunk ended exactly at a newline: nothing is held, not even an empty remainder.
  assert.equal(d.atBoundary, true);
  assert.equal(d.pending, 0);
  // An overlong line being skipped holds no bytes, yet the next byte is not a line's first.
  d.push(Buffer.from('0123456789'), onLine, onOverflow);
  assert.equal(d.pending, 0);
  assert.equal(d.atBoundary, false);
  d.push(Buffer.from('\n'), onLine, onOverflow);
  assert.equal(d.atBoundary, true);
  assert.deepEqual(out, ['abc', '<overflow>']);
});

test('reset() drops a partial line and ends a skip: the next bytes start a new line', () => {
  const d = new LineDecoder(5);
  const out: string[] = [];
  const onLine = (l: Buffer) => out.push(l.toString());
  const onOverflow = () => out.push('<overflow>');
  d.push(Buffer.from('ab'), onLine, onOverflow);
  d.reset();
  assert.equal(d.pending, 0);
  assert.equal(d.atBoundary, true);
  d.push(Buffer.from('1\n'), onLine, onOverflow);
  assert.deepEqual(out, ['1']);
  // Without the reset the skip would swallow "ok" up to its newline.
  d.push(Buffer.from('0123456789'), onLine, onOverflow);
  d.reset();
  assert.equal(d.atBoundary, true);
  d.push(Buffer.from('ok\n'), onLine, onOverflow);
  assert.deepEqual(out, ['1', 'ok']);
});

test('encodeLine appends LF', () => {
  assert.deepEqual(encodeLine(Buffer.from('auth:a:b:c')), Buffer.from('auth:a:b:c\n'));
});
