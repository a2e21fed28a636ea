/**
 * 16-bit length framing (ejabberd's extauth protocol): a 2-byte big-endian length N, then N
 * bytes. A pure incremental decoder: `push()` keeps the partial remainder and emits only
 * complete frames. Unlike pg-protocol it has an explicit maximum length and an explicit rule
 * for zero-length frames.
 */
import { WireError } from './errors.js';

/** ejabberd's frame cannot carry more than this. */
export const FRAME16_MAX = 0xffff;

export interface Frame16DecoderOptions {
  /** Longest payload accepted; a longer announced length throws at once. */
  maxLength?: number;
  /** Emit zero-length frames (true) or throw ERR_WIRE_EMPTY_FRAME (false, default). */
  allowEmpty?: boolean;
}

export class Frame16Decoder {
  readonly #maxLength: number;
  readonly #allowEmpty: boolean;
  #rest: Buffer | null = null;

  constructor(options: Frame16DecoderOptions = {}) {
    this.#maxLength = Math.min(options.maxLength ?? FRAME16_MAX, FRAME16_MAX);
    this.#allowEmpty = options.allowEmpty ?? false;
  }

  /** Bytes held back, waiting for the rest of their frame. */
  get pending(): number {
    return this.#rest === null ? 0 : this.#rest.length;
  }

  /** Feed bytes; calls `onFrame` with the payload of every complete frame. */
  push(chunk: Buffer, onFrame: (payload: Buffer) => void): void {
    let buf = chunk;
    if (this.#rest !== null) {
      buf = Buffer.concat([this.#rest, chunk]);
      this.#rest = null;
    }
    let off = 0;
    while (buf.length - off >= 2) {
      const len = buf.readUInt16BE(off);
      if (len > this.#maxLength) throw new WireError('ERR_WIRE_FRAME_TOO_LONG');
      if (len === 0 && !this.#allowEmpty) throw new WireError('ERR_WIRE_EMPTY_FRAME');
      if (buf.length - off - 2 < len) break;
      onFrame(buf.subarray(off + 2, off + 2 + len));
      off += 2 + len;
    }
    if (off < buf.length) this.#rest = Buffer.from(buf.subarray(off));
  }

  reset(): void {
    this.#rest = null;
  }
}

/** Encode one payload as a frame. Throws RangeError past 65535 bytes (query.ts bounds it). */
export function encodeFrame16(payload: Buffer): Buffer {
  if (payload.length > FRAME16_MAX) throw new RangeError('frame payload exceeds 65535 bytes');
  const out = Buffer.allocUnsafe(payload.length + 2);
  out.writeUInt16BE(payload.length, 0);
  payload.copy(out, 2);
  return out;
}
