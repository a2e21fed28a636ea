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

/** Reads a script's replies. */
export interface ReplyReader {
  /** Feed stdout bytes; calls `onReply` per complete reply. Throws WireError on a bad reply. */
  push(chunk: Buffer, onReply: (yes: boolean) => void): void;
  /** Bytes of an incomplete reply held back. */
  readonly pending: number;
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
}

export interface WireProtocol {
  readonly name: ProtocolName;
  /** Largest query payload this protocol can carry. */
  readonly maxQueryBytes: number;
  encodeQuery(query: Buffer): Buffer;
  createReplyReader(maxReplyBytes: number): ReplyReader;
  createQueryReader(maxQueryBytes: number): QueryReader;
  encodeReply(yes: boolean): Buffer;
}

const ONE = 0x31;
const ZERO = 0x30;

const GENERIC_YES = Buffer.from('1\n');
const GENERIC_NO = Buffer.from('0\n');

/** Prosody mod_auth_external: `cmd:user:host[:password]\n`, reply `1` or `0` on a line. */
export const generic: WireProtocol = {
  name: 'generic',
  // No frame limit of its own; the engine's configured query bound applies.
  maxQueryBytes: Number.MAX_SAFE_INTEGER,
  encodeQuery: encodeLine,
  createReplyReader(maxReplyBytes) {
    const lines = new LineDecoder(maxReplyBytes);
    return {
      get pending() {
        return lines.pending;
      },
      push(chunk, onReply) {
        lines.push(chunk, (line) => {
          if (line.length === 1 && line[0] === ONE) onReply(true);
          else if (line.length === 1 && line[0] === ZERO) onReply(false);
          else throw new WireError('ERR_WIRE_BAD_REPLY');
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
  createReplyReader() {
    // A reply is always a 2-byte payload: a longer announced length is a bad reply at once.
    const frames = new Frame16Decoder({ maxLength: 2 });
    return {
      get pending() {
        return frames.pending;
      },
      push(chunk, onReply) {
        try {
          frames.push(chunk, (p) => {
            if (p.length === 2 && p[0] === 0 && p[1] === 1) onReply(true);
            else if (p.length === 2 && p[0] === 0 && p[1] === 0) onReply(false);
            else throw new WireError('ERR_WIRE_BAD_REPLY');
          });
        } catch (err) {
          if (err instanceof WireError && err.code !== 'ERR_WIRE_BAD_REPLY') {
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
