/**
 * Failure throttling: after `limit` failures of one key (a user, a client address) within
 * `windowMs`, further attempts are refused without asking the script until the window ends;
 * or, with a backoff, only for a delay after the last failure that doubles with every failure
 * past the limit (1 s, 2 s, 4 s... up to `maxMs`), so that a stranger's guesses keep the real
 * user out for seconds, not for the rest of the window.
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
  /** When the last failure was counted (for the backoff). */
  lastAt: number;
}

/** The delay after the last failure, past the limit: 1 s doubling up to `maxMs`. */
export interface Backoff {
  readonly firstMs: number;
  readonly maxMs: number;
}

/** How long after its last failure a key with `count` failures waits (count >= limit). */
export function backoffDelay(b: Backoff, count: number, limit: number): number {
  const doublings = Math.min(count - limit, 30);
  return Math.min(b.maxMs, b.firstMs * 2 ** doublings);
}

export class MemoryThrottle implements FailureThrottle {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #maxKeys: number;
  readonly #windows = new Map<string, Window>();
  readonly #backoff: Backoff | null;

  /** @param limit failures allowed per window; 0 disables the throttle. */
  constructor(limit: number, windowMs: number, maxKeys = 100_000, backoff: Backoff | null = null) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
    this.#backoff = backoff;
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
    if (w.count < this.#limit) return 0;
    if (this.#backoff === null) return w.resetAt - now;
    return Math.max(0, Math.min(w.resetAt, w.lastAt + backoffDelay(this.#backoff, w.count, this.#limit)) - now);
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
      w.lastAt = now;
      return;
    }
    if (this.#windows.size >= this.#maxKeys) this.#sweep(now);
    this.#windows.set(key, { count: 1, resetAt: now + this.#windowMs, lastAt: now });
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
 * With a backoff, the count is shared but the time of the last failure is what this instance
 * saw: a key whose last failure it did not count itself (the shared count grew since) waits the
 * whole current delay from now: longer, never shorter, than on the instance that counted it.
 */
export class StoreThrottle implements FailureThrottle {
  readonly #store: FailureCounters;
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #prefix: string;
  readonly #backoff: Backoff | null;
  /** Key -> when this instance last counted a failure for it, and the count then (backoff only; bounded). */
  readonly #last = new Map<string, { at: number; count: number }>();

  constructor(store: FailureCounters, limit: number, windowMs: number, prefix: string, backoff: Backoff | null = null) {
    this.#store = store;
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#prefix = prefix;
    this.#backoff = backoff;
  }

  async blockedFor(key: string): Promise<number> {
    if (this.#limit === 0) return 0;
    const now = Date.now();
    const count = await this.#store.failuresOf(this.#prefix + key, now);
    if (count < this.#limit) return 0;
    if (this.#backoff === null) return this.#windowMs;
    const delay = backoffDelay(this.#backoff, count, this.#limit);
    const last = this.#last.get(key);
    return last === undefined || last.count < count ? delay : Math.max(0, last.at + delay - now);
  }

  async failures(key: string): Promise<number> {
    if (this.#limit === 0) return 0;
    return this.#store.failuresOf(this.#prefix + key, Date.now());
  }

  async fail(key: string): Promise<void> {
    if (this.#limit === 0) return;
    const now = Date.now();
    const count = await this.#store.hitFailure(this.#prefix + key, now, this.#windowMs);
    if (this.#backoff !== null) {
      // Forgetting only lengthens waits: an unknown last failure waits the whole delay.
      if (this.#last.size >= 100_000) this.#last.clear();
      this.#last.set(key, { at: now, count });
    }
  }

  async succeed(key: string): Promise<void> {
    if (this.#limit === 0) return;
    this.#last.delete(key);
    await this.#store.clearFailures(this.#prefix + key);
  }
}
