import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Frame16Decoder, encodeFrame16 } from '../../../src/extauth/wire/frame16.js';

function decode(chunks: Buffer[], opts = {}): string[] {
  const d = new Frame16Decoder(opts);
  const out: string[] = [];
  for (const c of chunks) d.push(c, (p) => out.push(p.toString('hex')));
  return out;
}

test('frames split at every byte offset, alone and together with the next, decode the same', () => {
  const a = encodeFrame16(Buffer.from('auth:alice:localhost:pä:ss'));
  const b = encodeFrame16(Buffer.from([0, 1]));
  const input = Buffer.concat([a, b]);
  const expected = [Buffer.from('auth:alice:localhost:pä:ss').toString('hex'), '0001'];
  for (let i = 0; i <= input.length; i++) {
    for (let j = i; j <= input.length; j++) {
      const parts = [input.subarray(0, i), input.subarray(i, j), input.subarray(j)];
      assert.deepEqual(decode(parts), expected, `split at ${i},${j}`);
    }
  }
  // Byte by byte.
  assert.deepEqual(decode([...input].map((x) => Buffer.from([x]))), expected);
});

test('the length is big-endian and may exceed 255', () => {
  const payload = Buffer.alloc(300, 0x61);
  const f = encodeFrame16(payload);
  assert.equal(f[0], 1);
  assert.equal(f[1], 44);
  assert.deepEqual(decode([f]), [payload.toString('hex')]);
});

test('zero-length frames throw unless allowed', () => {
  assert.throws(() => decode([Buffer.from([0, 0])]), { code: 'ERR_WIRE_EMPTY_FRAME' });
  assert.deepEqual(decode([Buffer.from([0, 0, 0, 1, 0x41])], { allowEmpty: true }), ['', '41']);
});

test('an announced length above the maximum throws at once, before the payload arrives', () => {
  assert.throws(() => decode([Buffer.from([0, 3])], { maxLength: 2 }), { code: 'ERR_WIRE_FRAME_TOO_LONG' });
  assert.deepEqual(decode([Buffer.from([0, 2, 0, 1])], { maxLength: 2 }), ['0001']);
});

test('encodeFrame16 refuses payloads over 65535 bytes', () => {
  assert.equal(encodeFrame16(Buffer.alloc(65535)).length, 65537);
  assert.throws(() => encodeFrame16(Buffer.alloc(65536)), RangeError);
  // Refused by its own check, with its own message, before any byte is written.
  assert.throws(() => encodeFrame16(Buffer.alloc(65536)), { name: 'RangeError', message: 'frame payload exceeds 65535 bytes' });
});

test('decoder errors are WireErrors named as such, with the message of their code', () => {
  assert.throws(() => decode([Buffer.from([0, 3])], { maxLength: 2 }), {
    name: 'WireError',
    code: 'ERR_WIRE_FRAME_TOO_LONG',
    message: 'frame exceeds the maximum length',
  });
  assert.throws(() => decode([Buffer.from([0, 0])]), { name: 'WireError', code: 'ERR_WIRE_EMPTY_FRAME', message: 'zero-length frame' });
});

test('reset() drops a partial frame: the next bytes start a new frame', () => {
  const d = new Frame16Decoder();
  const out: string[] = [];
  d.push(Buffer.from([0, 5, 0x61, 0x62]), (p) => out.push(p.toString()));
  assert.equal(d.pending, 4);
  d.reset();
  assert.equal(d.pending, 0);
  // Without the reset, these bytes would complete the old frame as "ab" + 00 02 4f.
  d.push(Buffer.from([0, 2, 0x4f, 0x4b]), (p) => out.push(p.toString()));
  assert.deepEqual(out, ['OK']);
  assert.equal(d.pending, 0);
});
