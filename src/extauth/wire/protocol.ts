/**
 * The two extauth wire protocols (DESIGN.md, "The two wire protocols"), both directions:
 * the engine writes queries to a script and reads its replies; the bridge reads queries
 * from ejabberd or Prosody and writes replies. No I/O here.
 */
import { WireError } from './errors.js';
import { Frame16Decoder, encodeFrame16, FRAME16_MAX } from './frame16.js';
import { LineDecoder, encodeLine } from './line.js';

export type ProtocolName = 'generic' | 'ejabberd';
export const PROTOCOL_NAMES: readonly ProtocolName[] = ['generic', 'ejabberd'];

/** Reply states returned by ReplyReader.read(). */
export const PARTIAL = -1;
export const NO = 0;
export const YES = 1;
export type ReadResult = typeof PARTIAL | typeof NO | typeof YES;

/**
 * Reads a script's replies, exactly one per query. Called on the hot path for every query,
 * so it returns a number rather than taking a callback.
 */
export interface ReplyReader {
  /**
   * Feed stdout bytes. Returns YES or NO for a complete reply, PARTIAL while incomplete.
   * Throws WireError for a bad reply, and ERR_WIRE_EXTRA_DATA when anything follows the reply
   * in the same chunk (a second reply must not be left over for the next query).
   */
  read(chunk: Buffer): ReadResult;
}

/** Reads queries sent by a server (the bridge side). */
export interface QueryReader {
  /**
   * Feed stdin bytes; calls `onQuery` per complete query, and `onQuery(null)` for a query that
   * cannot be read (overlong line, empty frame) but whose framing is intact, so the caller can
   * answer "no" in its place and stay in step.
   */
  push(chunk: Buffer, onQuery: (query: Buffer | null) => void): void;
  readonly pending: number;
  /** Nothing of an unfinished query is held (nor being skipped): the next byte starts one. */
  readonly atBoundary: boolean;
}

export interface WireProtocol {
  readonly name: ProtocolName;
  /** Largest query payload this protocol can carry. */
  readonly maxQueryBytes: number;
  encodeQuery(query: Buffer): Buffer;
  /** Frame a query given as text (UTF-8), in one allocation. */
  frameText(text: string): Buffer;
  createReplyReader(maxReplyBytes: number): ReplyReader;
  createQueryReader(maxQueryBytes: number): QueryReader;
  encodeReply(yes: boolean): Buffer;
}

const ONE = 0x31;
const ZERO = 0x30;
const LF = 0x0a;
const CR = 0x0d;

/**
 * The general path of a reply reader: decode `chunk`, expect at most one message, and
 * nothing after it.
 */
function collect(
  chunk: Buffer,
  push: (chunk: Buffer, on: (msg: Buffer) => void) => void,
  pending: () => number,
  judge: (msg: Buffer) => ReadResult,
): ReadResult {
  let result: ReadResult = PARTIAL;
  let count = 0;
  push(chunk, (msg) => {
    if (++count > 1) throw new WireError('ERR_WIRE_EXTRA_DATA');
    result = judge(msg);
  });
  if (count === 1 && pending() > 0) throw new WireError('ERR_WIRE_EXTRA_DATA');
  return result;
}

const GENERIC_YES = Buffer.from('1\n');
const GENERIC_NO = Buffer.from('0\n');

/** Prosody mod_auth_external: `cmd:user:host[:password]\n`, reply `1` or `0` on a line. */
export const generic: WireProtocol = {
  name: 'generic',
  // No frame limit of its own; the engine's configured query bound applies.
  maxQueryBytes: Number.MAX_SAFE_INTEGER,
  encodeQuery: encodeLine,
  frameText: (text) => Buffer.from(`${text}\n`, 'utf8'),
  createReplyReader(maxReplyBytes) {
    const lines = new LineDecoder(maxReplyBytes);
    return {
      read(chunk) {
        // Fast path: the whole reply in one chunk, as nearly every script writes it.
        if (lines.pending === 0) {
          const n = chunk.length;
          if ((n === 2 && chunk[1] === LF) || (n === 3 && chunk[1] === CR && chunk[2] === LF)) {
            if (chunk[0] === ONE) return YES;
            if (chunk[0] === ZERO) return NO;
            throw new WireError('ERR_WIRE_BAD_REPLY');
          }
        }
        return collect(chunk, (c, on) => lines.push(c, on), () => lines.pending, (line) => {
          if (line.length === 1 && line[0] === ONE) return YES;
          if (line.length === 1 && line[0] === ZERO) return NO;
          throw new WireError('ERR_WIRE_BAD_REPLY');
        });
      },
    };
  },
  createQueryReader(maxQueryBytes) {
    const lines = new LineDecoder(maxQueryBytes);
    return {
      get pending() {
        return lines.pending;
      },
      get atBoundary() {
        return lines.atBoundary;
      },
      push(chunk, onQuery) {
        lines.push(chunk, onQuery, () => onQuery(null));
      },
    };
  },
  encodeReply: (yes) => (yes ? GENERIC_YES : GENERIC_NO),
};

const EJABBERD_YES = Buffer.from([0, 2, 0, 1]);
const EJABBERD_NO = Buffer.from([0, 2, 0, 0]);

/** ejabberd extauth: 2-byte big-endian length + query; reply exactly `00 02 00 0x`. */
export const ejabberd: WireProtocol = {
  name: 'ejabberd',
  maxQueryBytes: FRAME16_MAX,
  encodeQuery: encodeFrame16,
  frameText(text) {
    const n = Buffer.byteLength(text, 'utf8');
    if (n > FRAME16_MAX) throw new RangeError('frame payload exceeds 65535 bytes');
    const out = Buffer.allocUnsafe(n + 2);
    out.writeUInt16BE(n, 0);
    out.write(text, 2, 'utf8');
    return out;
  },
  createReplyReader() {
    // A reply is always a 2-byte payload: a longer announced length is a bad reply at once.
    const frames = new Frame16Decoder({ maxLength: 2 });
    return {
      read(chunk) {
        if (frames.pending === 0 && chunk.length === 4 && chunk[0] === 0 && chunk[1] === 2 && chunk[2] === 0) {
          if (chunk[3] === 1) return YES;
          if (chunk[3] === 0) return NO;
          throw new WireError('ERR_WIRE_BAD_REPLY');
        }
        try {
          return collect(chunk, (c, on) => frames.push(c, on), () => frames.pending, (p) => {
            if (p.length === 2 && p[0] === 0 && p[1] === 1) return YES;
            if (p.length === 2 && p[0] === 0 && p[1] === 0) return NO;
            throw new WireError('ERR_WIRE_BAD_REPLY');
          });
        } catch (err) {
          if (err instanceof WireError && err.code !== 'ERR_WIRE_BAD_REPLY' && err.code !== 'ERR_WIRE_EXTRA_DATA') {
            throw new WireError('ERR_WIRE_BAD_REPLY', `${err.message} in reply`);
          }
          throw err;
        }
      },
    };
  },
  createQueryReader(maxQueryBytes) {
    const frames = new Frame16Decoder({ allowEmpty: true });
    return {
      get pending() {
        return frames.pending;
      },
      get atBoundary() {
        return frames.pending === 0;
      },
      push(chunk, onQuery) {
        frames.push(chunk, (p) => onQuery(p.length === 0 || p.length > maxQueryBytes ? null : p));
      },
    };
  },
  encodeReply: (yes) => (yes ? EJABBERD_YES : EJABBERD_NO),
};

export function wireProtocol(name: ProtocolName): WireProtocol {
  return name === 'ejabberd' ? ejabberd : generic;
}
