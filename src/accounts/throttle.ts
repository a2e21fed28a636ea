/**
 * Failure throttling: after `limit` failures of one key (a user, a client address) within
 * `windowMs`, further attempts are refused without asking the script until the window ends.
 * The faces (bridge, HTTP) call it; it never turns a refusal into a success. In memory and
 * bounded; a store shared by several instances can implement the same interface.
 */
export interface FailureThrottle {
  /** Milliseconds until `key` may try again; 0 when it may now. */
  blockedFor(key: string): number;
  /** Count one failure of `key`. */
  fail(key: string): void;
  /** A success clears the key's failures. */
  succeed(key: string): void;
}

interface Window {
  count: number;
  resetAt: number;
}

export class MemoryThrottle implements FailureThrottle {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, Window>();

  /** @param limit failures allowed per window; 0 disables the throttle. */
  constructor(limit: number, windowMs: number, maxKeys = 100_000) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
  }

  blockedFor(key: string): number {
    if (this.#limit === 0) return 0;
    const w = this.#windows.get(key);
    if (w === undefined) return 0;
    const now = Date.now();
    if (w.resetAt <= now) {
      this.#windows.delete(key);
      return 0;
    }
    return w.count >= this.#limit ? w.resetAt - now : 0;
  }

  fail(key: string): void {
    if (this.#limit === 0) return;
    const now = Date.now();
    const w = this.#windows.get(key);
    if (w !== undefined && w.resetAt > now) {
      w.count++;
      return;
    }
    if (this.#windows.size >= this.#maxKeys) this.#sweep(now);
    this.#windows.set(key, { count: 1, resetAt: now + this.#windowMs });
  }

  succeed(key: string): void {
    this.#windows.delete(key);
  }

  /** Drop expired windows; if none expired, the oldest ones (bounded memory beats precision). */
  #sweep(now: number): void {
    for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k);
    const excess = this.#windows.size - Math.floor(this.#maxKeys * 0.9);
    if (excess > 0) {
      let n = 0;
      for (const k of this.#windows.keys()) {
        if (n++ >= excess) break;
        this.#windows.delete(k);
      }
    }
  }
}
