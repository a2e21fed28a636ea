/**
 * Line framing (the generic protocol of Prosody's mod_auth_external): messages end with
 * `\n`, an optional `\r` before it is dropped. A pure incremental decoder in the manner of
 * pg-protocol's parser: `push()` keeps the partial remainder and emits only complete lines.
 */
import { WireError } from './errors.js';

const LF = 0x0a;
const CR = 0x0d;

export class LineDecoder {
  readonly #maxLength: number;
  #rest: Buffer | null = null;
  #discarding = false;

  /** @param maxLength longest line accepted, in bytes, not counting the line ending. */
  constructor(maxLength: number) {
    this.#maxLength = maxLength;
  }

  /** Bytes held back, waiting for the end of their line. */
  get pending(): number {
    return this.#rest === null ? 0 : this.#rest.length;
  }

  /** No partial line is held or being discarded: the next byte starts a line. */
  get atBoundary(): boolean {
    return this.#rest === null && !this.#discarding;
  }

  /**
   * Feed bytes; calls `onLine` for every complete line (without its ending).
   *
   * Without `onOverflow`, throws ERR_WIRE_LINE_TOO_LONG as soon as a line is known to be too
   * long (the reader of a script's replies: the process is then retired). With it, an
   * overlong line is discarded up to its `\n` and reported once through `onOverflow`, and
   * decoding goes on with the next line (the bridge's reader of queries, which must stay in
   * step with its peer).
   */
  push(chunk: Buffer, onLine: (line: Buffer) => void, onOverflow?: () => void): void {
    let buf = chunk;
    if (this.#rest !== null) {
      buf = Buffer.concat([this.#rest, chunk]);
      this.#rest = null;
    }
    let start = 0;
    if (this.#discarding) {
      const nl = buf.indexOf(LF);
      if (nl === -1) return;
      this.#discarding = false;
      start = nl + 1;
      onOverflow?.();
    }
    for (;;) {
      const nl = buf.indexOf(LF, start);
      if (nl === -1) break;
      let end = nl;
      if (end > start && buf[end - 1] === CR) end--;
      if (end - start > this.#maxLength) {
        if (onOverflow === undefined) throw new WireError('ERR_WIRE_LINE_TOO_LONG');
        onOverflow();
      } else {
        onLine(buf.subarray(start, end));
      }
      start = nl + 1;
    }
    if (start < buf.length) {
      // A `\r` may still be followed by `\n`, so it is not counted against the limit yet.
      const partial = buf.length - start;
      const counted = buf[buf.length - 1] === CR ? partial - 1 : partial;
      if (counted > this.#maxLength) {
        if (onOverflow === undefined) throw new WireError('ERR_WIRE_LINE_TOO_LONG');
        this.#discarding = true;
        return;
      }
      this.#rest = Buffer.from(buf.subarray(start));
    }
  }

  /** Drop any partial line. */
  reset(): void {
    this.#rest = null;
    this.#discarding = false;
  }
}

/** Encode one message as a line. The caller guarantees it holds no `\n` (query.ts does). */
export function encodeLine(payload: Buffer): Buffer {
  const out = Buffer.allocUnsafe(payload.length + 1);
  payload.copy(out, 0);
  out[payload.length] = LF;
  return out;
}
