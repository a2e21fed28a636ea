/**
 * Request rate limits per key (a client address, a client): at most `limit` requests per
 * fixed window. In memory and bounded; 0 disables. Used on registration and the token
 * endpoint (DESIGN.md "rate limits"); failed logins have their own throttle (accounts/).
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #windows = new Map<string, { count: number; resetAt: number }>();
  readonly #maxKeys: number;

  constructor(limit: number, windowMs: number, maxKeys = 100_000) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
  }

  /** Count one request; returns 0 when allowed, else milliseconds until the window resets. */
  take(key: string, now = Date.now()): number {
    if (this.#limit === 0) return 0;
    let w = this.#windows.get(key);
    if (w === undefined || w.resetAt <= now) {
      if (this.#windows.size >= this.#maxKeys) this.#sweep(now);
      w = { count: 0, resetAt: now + this.#windowMs };
      this.#windows.set(key, w);
    }
    w.count++;
    return w.count > this.#limit ? w.resetAt - now : 0;
  }

  #sweep(now: number): void {
    for (const [k, w] of this.#windows) if (w.resetAt <= now) this.#windows.delete(k);
    if (this.#windows.size >= this.#maxKeys) this.#windows.clear();
  }
}
