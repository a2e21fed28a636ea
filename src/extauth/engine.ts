/**
 * The external auth engine: the library face of everything in this folder. It validates a
 * query (rule 2), answers an empty password "no" without asking (rule 2), consults the
 * optional positive cache, and runs the query on the pool. Callers get `true`, `false`, or an
 * ExtauthError with a stable code (rule 7).
 *
 * @example
 * const engine = new ExtauthEngine({ argv: ['python3', 'auth.py'], protocol: 'generic',
 *   size: 4, timeoutMs: 5000, queueLimit: 1000, queueTimeoutMs: 5000 });
 * if (await engine.auth('alice', 'example.com', 'secret')) { ... }
 * await engine.close();
 */
import { PositiveCache } from './cache.js';
import { ExtauthPool, type PoolOptions, type PoolStats } from './pool.js';
import { DEFAULT_QUERY_LIMITS, validateQuery, type Command, type Query, type QueryLimits } from './query.js';

export interface EngineOptions extends PoolOptions {
  /** Bounds on user, host and the whole query. The protocol's frame limit also applies. */
  readonly limits?: Partial<QueryLimits>;
  /** Cache positive answers this long (ms); 0 or absent: no cache. */
  readonly cacheTtlMs?: number;
  readonly cacheMaxEntries?: number;
}

export interface QueryOptions {
  readonly signal?: AbortSignal | undefined;
  /** See RunOptions.deadline (pool.ts). */
  readonly deadline?: number | undefined;
}

export interface EngineStats extends PoolStats {
  readonly cached: number;
}

/** Observer of every answered query, for metrics. */
export type QueryListener = (command: Command, outcome: 'yes' | 'no' | string, ms: number) => void;

export class ExtauthEngine {
  readonly #pool: ExtauthPool;
  readonly #limits: QueryLimits;
  readonly #cache: PositiveCache | null;
  readonly #listeners: QueryListener[] = [];

  constructor(options: EngineOptions) {
    this.#pool = new ExtauthPool(options);
    const maxQueryBytes = Math.min(
      options.limits?.maxQueryBytes ?? DEFAULT_QUERY_LIMITS.maxQueryBytes,
      this.#pool.protocol.maxQueryBytes,
    );
    this.#limits = Object.freeze({
      maxFieldBytes: options.limits?.maxFieldBytes ?? DEFAULT_QUERY_LIMITS.maxFieldBytes,
      maxQueryBytes,
    });
    this.#cache = options.cacheTtlMs ? new PositiveCache(options.cacheTtlMs, options.cacheMaxEntries) : null;
  }

  get limits(): QueryLimits {
    return this.#limits;
  }

  /** Queries a caller may have outstanding without any being refused as overloaded. */
  get capacity(): number {
    return this.#pool.capacity;
  }

  /** Subscribe to every answered query (command, 'yes' | 'no' | error code, milliseconds). */
  onQuery(listener: QueryListener): void {
    this.#listeners.push(listener);
  }

  /** Run any query. Rejects with ERR_EXTAUTH_INVALID_INPUT before sending anything unsafe. */
  query(q: Query, options: QueryOptions = {}): Promise<boolean> {
    let text: string;
    try {
      text = validateQuery(q, this.#limits);
    } catch (err) {
      return Promise.reject(err);
    }
    if (q.password === '') return Promise.resolve(false); // rule 2: an empty password is "no", unasked
    if (this.#cache === null && this.#listeners.length === 0) {
      // The hot path: straight to the pool, no extra promise.
      return this.#pool.run(text, { secret: q.password, signal: options.signal, deadline: options.deadline });
    }
    return this.#observedQuery(q, text, options);
  }

  /** The path with a cache or listeners. */
  async #observedQuery(q: Query, text: string, options: QueryOptions): Promise<boolean> {
    const cache = this.#cache;
    const cacheable = cache !== null && (q.command === 'auth' || q.command === 'isuser');
    if (cacheable && cache.has(q)) return true;
    const mutates = q.command === 'setpass' || q.command === 'removeuser' || q.command === 'removeuser3';
    if (mutates) cache?.invalidate(q.user, q.host);
    const started = this.#listeners.length > 0 ? performance.now() : 0;
    try {
      const yes = await this.#pool.run(text, { secret: q.password, signal: options.signal, deadline: options.deadline });
      if (yes && cacheable) cache.add(q);
      if (mutates) cache?.invalidate(q.user, q.host);
      if (started !== 0) this.#emit(q.command, yes ? 'yes' : 'no', started);
      return yes;
    } catch (err) {
      if (started !== 0) this.#emit(q.command, (err as { code?: string }).code ?? 'error', started);
      throw err;
    }
  }

  auth(user: string, host: string, password: string, options?: QueryOptions): Promise<boolean> {
    return this.query({ command: 'auth', user, host, password }, options);
  }

  isuser(user: string, host: string, options?: QueryOptions): Promise<boolean> {
    return this.query({ command: 'isuser', user, host }, options);
  }

  setpass(user: string, host: string, password: string, options?: QueryOptions): Promise<boolean> {
    return this.query({ command: 'setpass', user, host, password }, options);
  }

  tryregister(user: string, host: string, password: string, options?: QueryOptions): Promise<boolean> {
    return this.query({ command: 'tryregister', user, host, password }, options);
  }

  removeuser(user: string, host: string, options?: QueryOptions): Promise<boolean> {
    return this.query({ command: 'removeuser', user, host }, options);
  }

  removeuser3(user: string, host: string, password: string, options?: QueryOptions): Promise<boolean> {
    return this.query({ command: 'removeuser3', user, host, password }, options);
  }

  stats(): EngineStats {
    return { ...this.#pool.stats(), cached: this.#cache?.size ?? 0 };
  }

  pids(): number[] {
    return this.#pool.pids();
  }

  /** For each process serving now: when it became ready (Date.now() ms); see readiness. */
  servingSince(): number[] {
    return this.#pool.servingSince();
  }

  /** See ExtauthPool.whenReady: every process up and no start-up failure for `settleMs`. */
  whenReady(options: { timeoutMs: number; settleMs?: number }): Promise<boolean> {
    return this.#pool.whenReady(options);
  }

  /** See ExtauthPool.close; `drain` still serves the queued queries. */
  close(options?: { eofGraceMs?: number; force?: boolean; drain?: boolean }): Promise<void> {
    return this.#pool.close(options);
  }

  #emit(command: Command, outcome: string, started: number): void {
    const ms = performance.now() - started;
    for (const l of this.#listeners) l(command, outcome, ms);
  }
}
