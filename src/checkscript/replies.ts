/**
 * Cutting a script's stdout into reply units with the engine's own decoders, but leniently:
 * the engine stops at the first bad byte, the checker wants to see what the script really
 * sends. A unit is one line (generic) or one frame (ejabberd), well-formed or not; `answer` is
 * set only when the unit is exactly what the protocol allows.
 */
import { Frame16Decoder, FRAME16_MAX } from '../extauth/wire/frame16.js';
import { LineDecoder } from '../extauth/wire/line.js';
import type { ProtocolName } from '../extauth/wire/protocol.js';

export interface ReplyUnit {
  /** The line without its ending, or the frame's payload. Empty for an overlong line. */
  readonly raw: Buffer;
  /** true for yes, false for no, null when the unit is not a valid reply. */
  readonly answer: boolean | null;
  /** performance.now() when it was read. */
  readonly at: number;
  /** A line longer than the checker keeps (64 KiB). */
  readonly overlong?: true;
}

export interface ReplySplitter {
  push(chunk: Buffer, onUnit: (unit: ReplyUnit) => void): void;
  /** Bytes of an unfinished unit held back. */
  readonly pending: number;
  reset(): void;
}

/** Longest line kept whole; anything longer is garbage whatever it holds. */
const MAX_LINE = 64 * 1024;
const ONE = 0x31;
const ZERO = 0x30;

export function createSplitter(protocol: ProtocolName): ReplySplitter {
  return protocol === 'ejabberd' ? frameSplitter() : lineSplitter();
}

function lineSplitter(): ReplySplitter {
  // `\r\n` is allowed by the protocol and dropped by the decoder; a lone `1\r\r` stays wrong.
  const lines = new LineDecoder(MAX_LINE);
  return {
    get pending() {
      return lines.pending;
    },
    push(chunk, onUnit) {
      lines.push(
        chunk,
        (line) => {
          const answer = line.length === 1 && line[0] === ONE ? true : line.length === 1 && line[0] === ZERO ? false : null;
          onUnit({ raw: Buffer.from(line), answer, at: performance.now() });
        },
        () => onUnit({ raw: Buffer.alloc(0), answer: null, at: performance.now(), overlong: true }),
      );
    },
    reset: () => lines.reset(),
  };
}

function frameSplitter(): ReplySplitter {
  // Every announced length is accepted (even 0) so that a wrong frame is seen whole and shown,
  // rather than cut at its header.
  const frames = new Frame16Decoder({ maxLength: FRAME16_MAX, allowEmpty: true });
  return {
    get pending() {
      return frames.pending;
    },
    push(chunk, onUnit) {
      frames.push(chunk, (p) => {
        const answer = p.length === 2 && p[0] === 0 && (p[1] === 1 || p[1] === 0) ? p[1] === 1 : null;
        onUnit({ raw: Buffer.from(p), answer, at: performance.now() });
      });
    },
    reset: () => frames.reset(),
  };
}
