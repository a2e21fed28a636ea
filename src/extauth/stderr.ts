/**
 * A script's stderr, logged line by line and never read as a reply (DESIGN.md rule 1).
 * Bounded: a line is cut at `maxLineBytes`, and a rate limit (token bucket) keeps a flooding
 * script from flooding the log; suppressed lines are counted and reported. Passwords of the
 * process's recent queries are redacted even when a script echoes them (rule 8).
 */
import type { Logger } from '../log/logger.js';

const LF = 0x0a;
/** Held back at most this much while waiting for a line end; redaction needs whole passwords. */
const HOLD_BYTES = 8192;

export interface StderrLogOptions {
  logger: Logger;
  /** Longest line logged; the rest is cut. */
  maxLineBytes?: number;
  /** Lines allowed in a burst. */
  burst?: number;
  /** Lines per second allowed after a burst. */
  perSecond?: number;
  /** Secrets to redact, looked up when a line is logged. */
  secrets: () => Iterable<string>;
}

export class StderrLog {
  readonly #o: Required<StderrLogOptions>;
  #hold: Buffer[] = [];
  #held = 0;
  #cutting = false;
  #tokens: number;
  #last = Date.now();
  #suppressed = 0;

  constructor(options: StderrLogOptions) {
    this.#o = { maxLineBytes: 1024, burst: 20, perSecond: 5, ...options };
    this.#tokens = this.#o.burst;
  }

  push(chunk: Buffer): void {
    let start = 0;
    for (;;) {
      const nl = chunk.indexOf(LF, start);
      if (nl === -1) break;
      if (this.#cutting) this.#cutting = false;
      else this.#line(this.#take(chunk.subarray(start, nl)));
      start = nl + 1;
    }
    if (start < chunk.length && !this.#cutting) {
      const rest = chunk.subarray(start);
      if (this.#held + rest.length > HOLD_BYTES) {
        this.#line(this.#take(rest.subarray(0, HOLD_BYTES - this.#held)), true);
        this.#cutting = true;
      } else {
        this.#hold.push(Buffer.from(rest));
        this.#held += rest.length;
      }
    }
  }

  /** Log what is left when the stream ends. */
  end(): void {
    if (this.#held > 0) this.#line(this.#take(Buffer.alloc(0)));
    if (this.#suppressed > 0) this.#flushSuppressed();
  }

  #take(tail: Buffer): Buffer {
    if (this.#held === 0) return tail;
    const all = Buffer.concat([...this.#hold, tail]);
    this.#hold = [];
    this.#held = 0;
    return all;
  }

  #line(bytes: Buffer, cut = false): void {
    const now = Date.now();
    this.#tokens = Math.min(this.#o.burst, this.#tokens + ((now - this.#last) / 1000) * this.#o.perSecond);
    this.#last = now;
    if (this.#tokens < 1) {
      this.#suppressed++;
      return;
    }
    this.#tokens--;
    if (this.#suppressed > 0) this.#flushSuppressed();
    let text = bytes.toString('utf8').replace(/\r$/, '');
    for (const secret of this.#o.secrets()) {
      if (secret.length > 0) text = text.split(secret).join('[redacted]');
    }
    if (Buffer.byteLength(text) > this.#o.maxLineBytes) {
      text = Buffer.from(text).subarray(0, this.#o.maxLineBytes).toString('utf8');
      cut = true;
    }
    this.#o.logger.warn({ stderr: text, ...(cut ? { truncated: true } : {}) }, 'auth script stderr');
  }

  #flushSuppressed(): void {
    this.#o.logger.warn({ suppressed: this.#suppressed }, 'auth script stderr lines suppressed (rate limit)');
    this.#suppressed = 0;
  }
}
