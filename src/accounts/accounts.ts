/**
 * The accounts every face asks: routes a query to the engine of its host (a host table with
 * its own `external_auth_*` settings gets its own pool; hosts with identical settings share
 * one) and applies failure throttling. A configuration reload (SIGHUP) swaps in new pools
 * without failing a query (`reload`).
 *
 * Failure throttling, the same on every face (OAuth pages, password grant, auth API, bridge,
 * Dovecot). A password check (auth, removeuser3) is refused unasked when:
 *  - this user from this address (its /64 for IPv6, http/address-key.ts) failed
 *    `auth_failure_limit_user` times in the window. A face that does not know the client's
 *    address (the auth API, whose caller is the XMPP server; the bridge; the extauth socket)
 *    counts as one address of its own, so failures on the login page from elsewhere never lock
 *    XMPP logins, and the reverse. There, anyone can make the user's failures, so past the
 *    limit the user waits a delay after the last failure that doubles with each further one
 *    (1 s up to `auth_failure_backoff_max`), instead of the rest of the window: ten wrong
 *    guesses by a stranger keep the real user out for a second, and a stranger who keeps
 *    guessing gets about one guess per `auth_failure_backoff_max`;
 *  - this address failed `auth_failure_limit_address` times, whatever the users (guessing
 *    across many accounts);
 *  - the user failed USER_CEILING times `auth_failure_limit_user` in the window from all
 *    addresses together (guessing from many addresses) and this address already failed for
 *    this user in the window: during such an attack every address gets at most one guess,
 *    while an address with no failure for the user (the real user, typing the right password)
 *    still gets in. So a stranger cannot lock the real user out, and spreading guesses over
 *    addresses buys one guess per address per window.
 * A success clears this user's count at this address and the address's count, never the
 * user's total: the real user signing in during an attack must not give the attacker's
 * addresses their guesses back.
 *
 * A user is counted on its identity (identity/username.ts: the PRECIS-prepared name, as XMPP
 * servers prepare localparts), so `Dave`, `DAVE` and `dAve` share dave's counts; the script
 * is still asked about the name as it was sent (an XMPP server sends it prepared already, and
 * a script that tells spellings apart keeps doing so).
 */
import { basename } from 'node:path';
import { ExtauthEngine, type QueryListener } from '../extauth/engine.js';
import { ExtauthError } from '../extauth/errors.js';
import type { Query } from '../extauth/query.js';
import { hostConfig, type ExtauthConfig, type GatehouseConfig, type HostConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { addressKey } from '../net/address-key.js';
import { identityKey, identityOf } from '../identity/username.js';
import { AccountsError, ReloadError } from './errors.js';
import { classify } from './outcome.js';
import { ACCOUNT_CHANGES, type AccountLifecycle } from './lifecycle.js';
import { MemoryThrottle, StoreThrottle, type Backoff, type FailureCounters, type FailureThrottle } from './throttle.js';

export interface QueryContext {
  /** Client address, when the face knows it (HTTP, Dovecot protocol). */
  readonly address?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /** When the caller stops waiting (performance.now() ms); see RunOptions.deadline. */
  readonly deadline?: number | undefined;
}

interface HostRuntime {
  readonly config: HostConfig;
  readonly engine: ExtauthEngine | null;
  /** Failures of a user from all addresses (limit USER_CEILING × the user limit). */
  readonly users: FailureThrottle;
  /** Failures of a user from one address (the user limit). */
  readonly pairs: FailureThrottle;
  /** Failures of a user through faces that do not know the client's address (with a backoff). */
  readonly nameless: FailureThrottle;
  readonly addresses: FailureThrottle;
}

/** How many times the per-address user limit a user's failures from all addresses may reach. */
export const USER_CEILING = 10;

/** The address a face without one (auth API, bridge) counts as. */
const NO_ADDRESS = '-';

/** Everything derived from one configuration; a reload builds a new one and swaps it in. */
interface Runtime {
  readonly config: GatehouseConfig;
  /** Pool settings (JSON) -> engine: hosts with equal settings share one. */
  readonly engines: Map<string, ExtauthEngine>;
  readonly hosts: Map<string, HostRuntime>;
  readonly defaults: HostRuntime;
  /** Throttles by host, kind and limits, so a reload keeps the counts of unchanged ones. */
  readonly throttles: Map<string, FailureThrottle>;
  /** The smallest engine capacity (queries outstanding without refusal); Infinity without engines. */
  readonly capacity: number;
}

export interface ReloadOptions {
  /** How long the new processes may take to start and settle. */
  readonly readyTimeoutMs?: number;
  /** How long they must then run without a start-up failure. */
  readonly settleMs?: number;
}

export interface ReloadReport {
  /** Engines (pools) now serving. */
  readonly engines: number;
  /** Processes started for them. */
  readonly processes: number;
  /** Engines retired: they finish their queued and in-flight queries, then stop. */
  readonly retired: number;
}

/** Commands that check a password and so count as login attempts. */
const PASSWORD_CHECKS = new Set(['auth', 'removeuser3']);

export class Accounts {
  #rt: Runtime;
  readonly #log: Logger;
  readonly #tokenVerifier: ((q: Query) => Promise<boolean>) | null;
  readonly #counters: FailureCounters | null;
  readonly #lifecycle: AccountLifecycle | null;
  readonly #listeners: QueryListener[] = [];
  /** Retired engines still finishing their queries. */
  readonly #retiring = new Set<Promise<void>>();
  /** Engines of a reload in progress, not yet serving. */
  #starting: ExtauthEngine[] = [];
  #reloading = false;
  #closed = false;

  /**
   * @param tokenVerifier accepts an OAuth access token as the password of its own user
   *   (src/oauth/token-password.ts); the script is asked when it says no.
   */
  constructor(
    config: GatehouseConfig,
    logger: Logger = silentLogger,
    tokenVerifier?: (q: Query) => Promise<boolean>,
    /** Shared failure counters (the database) when several instances must count together. */
    counters?: FailureCounters,
    /** Follows up account changes (src/oauth/lifecycle.ts: revokes grants, tokens, sessions). */
    lifecycle?: AccountLifecycle,
  ) {
    this.#log = logger;
    this.#tokenVerifier = tokenVerifier ?? null;
    this.#counters = counters ?? null;
    this.#lifecycle = lifecycle ?? null;
    this.#rt = this.#build(config, new Map());
  }

  /** The configuration in force (it changes on reload). */
  get config(): GatehouseConfig {
    return this.#rt.config;
  }

  /**
   * Queries a caller may have outstanding without any being refused as overloaded, whichever
   * engine they go to (the smallest capacity; it may change on reload).
   */
  get capacity(): number {
    return this.#rt.capacity;
  }

  /** Every engine, once each (hosts may share one). */
  engines(): ExtauthEngine[] {
    return [...this.#rt.engines.values()];
  }

  /** The engine answering for `host`, or null when none is configured. */
  engineFor(host: string): ExtauthEngine | null {
    return (this.#rt.hosts.get(host) ?? this.#rt.defaults).engine;
  }

  hostConfig(host: string): HostConfig {
    return hostConfig(this.#rt.config, host);
  }

  /** Observe every answered query of every engine, present and future (metrics). */
  onQuery(listener: QueryListener): void {
    this.#listeners.push(listener);
    for (const engine of this.#rt.engines.values()) engine.onQuery(listener);
  }

  /**
   * Ask the script. Resolves true/false; rejects with ExtauthError (engine) or AccountsError
   * (throttled, not configured). A throttled attempt never reaches the script.
   */
  async query(q: Query, ctx: QueryContext = {}): Promise<boolean> {
    const rt = this.#rt.hosts.get(q.host) ?? this.#rt.defaults;
    if (rt.engine === null) throw new AccountsError('ERR_AUTH_NOT_CONFIGURED');
    if (!rt.config.extauth.commands.includes(q.command)) {
      throw new ExtauthError('ERR_EXTAUTH_UNSUPPORTED', `the auth script does not implement ${q.command}`);
    }
    // A valid access token proves possession without asking the script (nor being throttled:
    // a guesser cannot lock a user out of token logins).
    if (q.command === 'auth' && this.#tokenVerifier !== null && (await this.#tokenVerifier(q))) return true;
    const counts = PASSWORD_CHECKS.has(q.command);
    // One identity per user (DESIGN.md rule 11): `Dave` and `dave` share their failures.
    // Only password checks are throttled: the identity is prepared for them alone.
    const userKey = counts ? identityKey(q.user, q.host) : '';
    const address = ctx.address ? addressKey(ctx.address) : null;
    const pairKey = `${userKey} ${address ?? NO_ADDRESS}`;
    const pairs = address === null ? rt.nameless : rt.pairs;
    if (counts) {
      const spread = await rt.users.blockedFor(userKey);
      const wait = Math.max(
        await pairs.blockedFor(pairKey),
        address !== null ? await rt.addresses.blockedFor(address) : 0,
        // Under attack from many addresses: only an address with no failure for this user.
        spread > 0 && (await pairs.failures(pairKey)) > 0 ? spread : 0,
      );
      if (wait > 0) {
        this.#log.warn({ user: identityOf(q.user), host: q.host, address: ctx.address, retryAfterMs: wait }, 'login refused: too many failures');
        throw new AccountsError('ERR_AUTH_THROTTLED', wait);
      }
    }
    // Read again after the awaits above: a reload may have retired the engine meanwhile.
    const engine = this.engineFor(q.host);
    if (engine === null) throw new AccountsError('ERR_AUTH_NOT_CONFIGURED');
    let yes: boolean;
    try {
      yes = await engine.query(q, { signal: ctx.signal, deadline: ctx.deadline });
    } catch (err) {
      // The change may have happened (the query was sent, the answer lost): follow it up anyway.
      if (err instanceof ExtauthError && err.sent) await this.#followUp(q, 'unknown');
      // Input that cannot be sent safely (a newline in a password) is an attack, not a slip:
      // it counts as a failure like a wrong password.
      if (counts && classify(err) === 'invalid') await failed(rt, pairs, userKey, pairKey, address);
      throw err;
    }
    if (yes) await this.#followUp(q, 'done');
    if (counts && q.password !== '') {
      if (yes) {
        await pairs.succeed(pairKey);
        if (address !== null) await rt.addresses.succeed(address);
      } else {
        await failed(rt, pairs, userKey, pairKey, address);
      }
    }
    return yes;
  }

  /**
   * After a command that changes an account (setpass, removeuser, removeuser3, tryregister),
   * the lifecycle hook revokes what the change ends. Fails closed: when it cannot, the command
   * fails with ERR_AUTH_LIFECYCLE (a temporary failure on every face), never a silent yes,
   * since the account changed while its old grants and sessions still work.
   */
  async #followUp(q: Query, outcome: 'done' | 'unknown'): Promise<void> {
    const kind = ACCOUNT_CHANGES[q.command];
    if (kind === undefined || this.#lifecycle === null) return;
    try {
      // Grants and sessions belong to the prepared name (the login page prepares it).
      await this.#lifecycle({ kind, user: identityOf(q.user), host: q.host, outcome });
    } catch (err) {
      this.#log.error(
        { command: q.command, user: identityOf(q.user), host: q.host, outcome, err: (err as Error).message },
        "account changed but its OAuth grants and sessions were not revoked: answering a temporary failure",
      );
      throw new AccountsError('ERR_AUTH_LIFECYCLE');
    }
  }

  /**
   * Apply a new configuration's auth script and throttling settings without failing a query
   * (a rolling restart): new pools are started beside the old ones and must start and settle;
   * only then do new queries go to them, while the old pools finish what they hold (queued
   * and in flight) and stop. Every pool is renewed, so a script changed on disk is picked up
   * even when its settings are not. If a new pool does not come up, it is stopped and the old
   * configuration stays in force (ReloadError ERR_RELOAD_NOT_READY). Failure counts carry
   * over for throttles whose limits did not change.
   */
  async reload(config: GatehouseConfig, options: ReloadOptions = {}): Promise<ReloadReport> {
    if (this.#closed) throw new ReloadError('ERR_RELOAD_CLOSED');
    if (this.#reloading) throw new ReloadError('ERR_RELOAD_BUSY');
    this.#reloading = true;
    try {
      const next = this.#build(config, this.#rt.throttles);
      const engines = [...next.engines.values()];
      this.#starting = engines;
      const ready = await Promise.all(
        // The settle time's default is the pool's own (one second).
        engines.map((e) => e.whenReady({ timeoutMs: options.readyTimeoutMs ?? 10_000, settleMs: options.settleMs })),
      );
      const notReady = engines.filter((_e, i) => !ready[i]);
      if (notReady.length > 0 || this.#closed) {
        await Promise.all(engines.map((e) => e.close({ force: true })));
        if (this.#closed) throw new ReloadError('ERR_RELOAD_CLOSED');
        // Name each script that did not come up: with several hosts, the operator must know which.
        const hosts = [next.defaults, ...next.hosts.values()];
        const script = (e: ExtauthEngine): string => scriptName(hosts.find((h) => h.engine === e)!.config.extauth.command!);
        const detail = notReady.map((e) => `${script(e)}: ${e.stats().failures} start-up failures`).join('; ');
        throw new ReloadError('ERR_RELOAD_NOT_READY', detail);
      }
      const old = this.#rt;
      this.#rt = next;
      for (const engine of old.engines.values()) {
        const done = engine.close({ drain: true }).finally(() => this.#retiring.delete(done));
        this.#retiring.add(done);
      }
      return {
        engines: engines.length,
        processes: engines.reduce((n, e) => n + e.stats().size, 0),
        retired: old.engines.size,
      };
    } finally {
      this.#starting = [];
      this.#reloading = false;
    }
  }

  async close(options?: { force?: boolean }): Promise<void> {
    this.#closed = true;
    await Promise.all([
      ...this.engines().map((e) => e.close(options)),
      ...this.#retiring,
      // A reload in progress: its pools never served, nothing to finish.
      ...this.#starting.map((e) => e.close({ force: true })),
    ]);
  }

  #build(config: GatehouseConfig, previousThrottles: ReadonlyMap<string, FailureThrottle>): Runtime {
    const engines = new Map<string, ExtauthEngine>();
    const throttles = new Map<string, FailureThrottle>();
    const runtime = (host: HostConfig): HostRuntime => ({
      config: host,
      engine: this.#engine(engines, host.extauth),
      users: this.#throttle(throttles, previousThrottles, host, host.throttle.userLimit * USER_CEILING, 'user'),
      pairs: this.#throttle(throttles, previousThrottles, host, host.throttle.userLimit, 'user-address'),
      nameless: this.#throttle(throttles, previousThrottles, host, host.throttle.userLimit, 'user-nameless', {
        firstMs: 1000,
        maxMs: host.throttle.backoffMaxMs,
      }),
      addresses: this.#throttle(throttles, previousThrottles, host, host.throttle.addressLimit, 'address'),
    });
    const defaults = runtime(config.defaults);
    const hosts = new Map<string, HostRuntime>();
    for (const [name, host] of config.hosts) hosts.set(name, runtime(host));
    const capacity = Math.min(...[...engines.values()].map((e) => e.capacity));
    return { config, engines, hosts, defaults, throttles, capacity };
  }

  #throttle(
    throttles: Map<string, FailureThrottle>,
    previous: ReadonlyMap<string, FailureThrottle>,
    host: HostConfig,
    limit: number,
    kind: string,
    backoff: Backoff | null = null,
  ): FailureThrottle {
    const key = `${kind}:${host.name ?? '*'}:${limit}:${host.throttle.windowMs}:${backoff?.maxMs ?? ''}`;
    const c = this.#counters;
    const throttle =
      previous.get(key) ??
      (c === null
        ? new MemoryThrottle(limit, host.throttle.windowMs, undefined, backoff)
        : new StoreThrottle(c, limit, host.throttle.windowMs, `${kind}:${host.name ?? '*'}:`, backoff));
    throttles.set(key, throttle);
    return throttle;
  }

  #engine(engines: Map<string, ExtauthEngine>, x: ExtauthConfig): ExtauthEngine | null {
    if (x.command === null) return null;
    // Hosts whose pool settings are equal share one pool (the command list is not a pool setting).
    const { commands: _commands, ...pool } = x;
    const key = JSON.stringify(pool);
    let engine = engines.get(key);
    if (engine === undefined) {
      engine = new ExtauthEngine({
        argv: x.command,
        cwd: x.cwd,
        protocol: x.protocol,
        size: x.processes,
        timeoutMs: x.timeoutMs,
        queueLimit: x.queueLimit,
        queueTimeoutMs: x.queueTimeoutMs,
        killGraceMs: x.killGraceMs,
        limits: { maxQueryBytes: x.maxQueryBytes },
        cacheTtlMs: x.cacheTtlMs,
        logger: this.#log.child({ engine: scriptName(x.command) }),
      });
      for (const listener of this.#listeners) engine.onQuery(listener);
      engines.set(key, engine);
    }
    return engine;
  }
}

/** Count one failed password check of a user at an address (header comment). */
async function failed(rt: HostRuntime, pairs: FailureThrottle, userKey: string, pairKey: string, address: string | null): Promise<void> {
  await pairs.fail(pairKey);
  await rt.users.fail(userKey);
  if (address !== null) await rt.addresses.fail(address);
}

/**
 * A short name of the script for logs: the interpreter's and the script's file names, never
 * further arguments (they may hold a database password).
 */
function scriptName(argv: readonly string[]): string {
  return argv.slice(0, 2).map((a) => basename(a)).join(' ');
}
