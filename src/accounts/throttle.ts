/**
 * Failure throttling: after `limit` failures of one key (a user, a client address) within
 * `windowMs`, further attempts are refused without asking the script until the window ends.
 * The faces (bridge, HTTP) call it; it never turns a refusal into a success. In memory and
 * bounded; a store shared by several instances can implement the same interface.
 */
export interface FailureThrottle {
  /** Milliseconds until `key` may try again; 0 when it may now. */
  blockedFor(key: string): number | Promise<number>;
  /** Failures of `key` in its current window (0 when none, or when the throttle is off). */
  failures(key: string): number | Promise<number>;
  /** Count one failure of `key`. */
  fail(key: string): void | Promise<void>;
  /** A success clears the key's failures. */
  succeed(key: string): void | Promise<void>;
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

  failures(key: string): number {
    if (this.#limit === 0) return 0;
    const w = this.#windows.get(key);
    return w === undefined || w.resetAt <= Date.now() ? 0 : w.count;
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

/** The store's failure counters, as the throttle interface wants them. */
export interface FailureCounters {
  hitFailure(key: string, at: number, windowMs: number): Promise<number>;
  failuresOf(key: string, at: number): Promise<number>;
  clearFailures(key: string): Promise<void>;
}

/**
 * A throttle whose counters live in the shared database, so that several instances behind one
 * address count the same failures (a guesser cannot spread attempts over them). The window
 * starts at the first failure; a blocked key waits until it ends, as with MemoryThrottle,
 * except that the wait reported is the whole window (the store does not say when it began).
 */
export class StoreThrottle implements FailureThrottle {
  readonly #store: FailureCounters;
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #prefix: string;

  constructor(store: FailureCounters, limit: number, windowMs: number, prefix: string) {
    this.#store = store;
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#prefix = prefix;
  }

  async blockedFor(key: string): Promise<number> {
    if (this.#limit === 0) return 0;
    return (await this.#store.failuresOf(this.#prefix + key, Date.now())) >= this.#limit ? this.#windowMs : 0;
  }

  async failures(key: string): Promise<number> {
    if (this.#limit === 0) return 0;
    return this.#store.failuresOf(this.#prefix + key, Date.now());
  }

  async fail(key: string): Promise<void> {
    if (this.#limit === 0) return;
    await this.#store.hitFailure(this.#prefix + key, Date.now(), this.#windowMs);
  }

  async succeed(key: string): Promise<void> {
    if (this.#limit === 0) return;
    await this.#store.clearFailures(this.#prefix + key);
  }
}
