/**
 * Request rate limits per key (a client address as address-key.ts makes it: IPv4 per
 * address, IPv6 per /64): at most `limit` requests per fixed window of `windowMs`; 0 disables.
 * Used on registration, the token, revocation, introspection and device endpoints (DESIGN.md
 * "rate limits"); failed logins have their own throttle (accounts/).
 *
 * Memory is bounded without forgetting anyone who is being limited:
 * - windows sit in a Map in the order they started, and all last `windowMs`, so the expired
 *   ones are always at the front: each call evicts them from there (amortized O(1));
 * - a live window is never dropped. When `maxKeys` live windows exist, a key without one is
 *   counted in a single shared overflow window with the same limit until windows expire: a
 *   flood of fresh addresses is limited as one client (its newcomers may be refused for up to
 *   one window), and a client already at its limit stays refused. (Before, the whole table
 *   was cleared at the cap, which let every limited client start again.)
 */
export class RateLimiter {
  readonly #limit: number;
  readonly #windowMs: number;
  readonly #windows = new Map<string, Window>();
  readonly #maxKeys: number;
  #overflow: Window = { count: 0, resetAt: 0 };

  constructor(limit: number, windowMs: number, maxKeys = 100_000) {
    this.#limit = limit;
    this.#windowMs = windowMs;
    this.#maxKeys = maxKeys;
  }

  /** Count one request; returns 0 when allowed, else milliseconds until its window resets. */
  take(key: string, now = Date.now()): number {
    if (this.#limit === 0) return 0;
    this.#evict(now);
    let w = this.#windows.get(key);
    if (w === undefined) {
      if (this.#windows.size < this.#maxKeys) {
        w = { count: 0, resetAt: now + this.#windowMs };
        this.#windows.set(key, w);
      } else {
        if (this.#overflow.resetAt <= now) this.#overflow = { count: 0, resetAt: now + this.#windowMs };
        w = this.#overflow;
      }
    }
    w.count++;
    return w.count > this.#limit ? w.resetAt - now : 0;
  }

  /** Live windows held (for tests and metrics). */
  get size(): number {
    return this.#windows.size;
  }

  /** Drop the expired windows at the front (the oldest). */
  #evict(now: number): void {
    for (const [k, w] of this.#windows) {
      if (w.resetAt > now) break;
      this.#windows.delete(k);
    }
  }
}

interface Window {
  count: number;
  resetAt: number;
}
