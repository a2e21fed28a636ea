/**
 * Optional cache of positive answers (`external_auth_cache_ttl`, off by default). Entries are
 * keyed by an HMAC under a random per-process key, so the plain password is never stored and
 * the keys are useless outside this process. Only "yes" is cached: a "no" or an error always
 * goes back to the script. An entry answers only the exact query it was made for (user as
 * sent, host, password); setpass/removeuser invalidate every entry of the user's identity
 * (identity/username.ts), whatever its spelling: a password changed as `Dave` ends the cached
 * yes of `dave`.
 */
import { createHmac, randomBytes } from 'node:crypto';
import { identityKey } from '../identity/username.js';
import type { Query } from './query.js';

export class PositiveCache {
  readonly #ttlMs: number;
  readonly #maxEntries: number;
  readonly #key = randomBytes(32);
  /** digest -> expiry (ms since epoch); Map order is insertion order, oldest first. */
  readonly #entries = new Map<string, number>();
  /** identity (identityKey) -> digests of its entries. */
  readonly #byUser = new Map<string, Set<string>>();

  constructor(ttlMs: number, maxEntries = 10_000) {
    this.#ttlMs = ttlMs;
    this.#maxEntries = maxEntries;
  }

  get size(): number {
    return this.#entries.size;
  }

  has(q: Query): boolean {
    const d = this.#digest(q);
    const exp = this.#entries.get(d);
    if (exp === undefined) return false;
    if (exp <= Date.now()) {
      this.#delete(d, q);
      return false;
    }
    return true;
  }

  add(q: Query): void {
    const d = this.#digest(q);
    this.#entries.delete(d);
    this.#entries.set(d, Date.now() + this.#ttlMs);
    const u = userKey(q);
    let set = this.#byUser.get(u);
    if (set === undefined) this.#byUser.set(u, (set = new Set()));
    set.add(d);
    while (this.#entries.size > this.#maxEntries) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      // The per-user index may keep a stale digest; it is harmless and dropped on invalidation.
    }
  }

  /** Forget every entry of this user's identity (password changed, account removed). */
  invalidate(user: string, host: string): void {
    const u = identityKey(user, host);
    const set = this.#byUser.get(u);
    if (set === undefined) return;
    for (const d of set) this.#entries.delete(d);
    this.#byUser.delete(u);
  }

  #delete(d: string, q: Query): void {
    this.#entries.delete(d);
    this.#byUser.get(userKey(q))?.delete(d);
  }

  #digest(q: Query): string {
    return createHmac('sha256', this.#key)
      .update(`${q.command}\0${q.user}\0${q.host}\0${q.password ?? ''}`)
      .digest('base64');
  }
}

function userKey(q: Query): string {
  return identityKey(q.user, q.host);
}
