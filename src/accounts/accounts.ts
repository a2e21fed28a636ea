/**
 * The accounts every face asks: routes a query to the engine of its host (a host table with
 * its own `external_auth_*` settings gets its own pool; hosts with identical settings share
 * one) and applies failure throttling per user and per client address.
 */
import { basename } from 'node:path';
import { ExtauthEngine } from '../extauth/engine.js';
import { ExtauthError } from '../extauth/errors.js';
import type { Query } from '../extauth/query.js';
import { hostConfig, type ExtauthConfig, type GatehouseConfig, type HostConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { AccountsError } from './errors.js';
import { MemoryThrottle, StoreThrottle, type FailureCounters, type FailureThrottle } from './throttle.js';

export interface QueryContext {
  /** Client address, when the face knows it (HTTP, Dovecot protocol). */
  readonly address?: string | undefined;
  readonly signal?: AbortSignal | undefined;
}

interface HostRuntime {
  readonly config: HostConfig;
  readonly engine: ExtauthEngine | null;
  readonly users: FailureThrottle;
  readonly addresses: FailureThrottle;
}

/** Commands that check a password and so count as login attempts. */
const PASSWORD_CHECKS = new Set(['auth', 'removeuser3']);

export class Accounts {
  readonly #config: GatehouseConfig;
  readonly #log: Logger;
  readonly #engines = new Map<string, ExtauthEngine>();
  readonly #hosts = new Map<string, HostRuntime>();
  readonly #defaults: HostRuntime;
  readonly #tokenVerifier: ((q: Query) => Promise<boolean>) | null;
  readonly #counters: FailureCounters | null;

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
  ) {
    this.#config = config;
    this.#log = logger;
    this.#tokenVerifier = tokenVerifier ?? null;
    this.#counters = counters ?? null;
    this.#defaults = this.#runtime(config.defaults);
    for (const [name, host] of config.hosts) this.#hosts.set(name, this.#runtime(host));
  }

  /** Every engine, once each (hosts may share one). */
  engines(): ExtauthEngine[] {
    return [...this.#engines.values()];
  }

  /** The engine answering for `host`, or null when none is configured. */
  engineFor(host: string): ExtauthEngine | null {
    return (this.#hosts.get(host) ?? this.#defaults).engine;
  }

  hostConfig(host: string): HostConfig {
    return hostConfig(this.#config, host);
  }

  /**
   * Ask the script. Resolves true/false; rejects with ExtauthError (engine) or AccountsError
   * (throttled, not configured). A throttled attempt never reaches the script.
   */
  async query(q: Query, ctx: QueryContext = {}): Promise<boolean> {
    const rt = this.#hosts.get(q.host) ?? this.#defaults;
    if (rt.engine === null) throw new AccountsError('ERR_AUTH_NOT_CONFIGURED');
    if (!rt.config.extauth.commands.includes(q.command)) {
      throw new ExtauthError('ERR_EXTAUTH_UNSUPPORTED', `the auth script does not implement ${q.command}`);
    }
    // A valid access token proves possession without asking the script (nor being throttled:
    // a guesser cannot lock a user out of token logins).
    if (q.command === 'auth' && this.#tokenVerifier !== null && (await this.#tokenVerifier(q))) return true;
    const counts = PASSWORD_CHECKS.has(q.command);
    const userKey = `${q.user}@${q.host}`;
    if (counts) {
      const wait = Math.max(await rt.users.blockedFor(userKey), ctx.address ? await rt.addresses.blockedFor(ctx.address) : 0);
      if (wait > 0) {
        this.#log.warn({ user: q.user, host: q.host, address: ctx.address, retryAfterMs: wait }, 'login refused: too many failures');
        throw new AccountsError('ERR_AUTH_THROTTLED', wait);
      }
    }
    let yes: boolean;
    try {
      yes = await rt.engine.query(q, { signal: ctx.signal });
    } catch (err) {
      // Input that cannot be sent safely (a newline in a password) is an attack, not a slip:
      // it counts as a failure like a wrong password.
      if (counts && err instanceof ExtauthError && err.code === 'ERR_EXTAUTH_INVALID_INPUT') {
        await rt.users.fail(userKey);
        if (ctx.address) await rt.addresses.fail(ctx.address);
      }
      throw err;
    }
    if (counts && q.password !== '') {
      if (yes) {
        await rt.users.succeed(userKey);
        if (ctx.address) await rt.addresses.succeed(ctx.address);
      } else {
        await rt.users.fail(userKey);
        if (ctx.address) await rt.addresses.fail(ctx.address);
      }
    }
    return yes;
  }

  async close(options?: { force?: boolean }): Promise<void> {
    await Promise.all(this.engines().map((e) => e.close(options)));
  }

  #runtime(host: HostConfig): HostRuntime {
    return {
      config: host,
      engine: this.#engine(host.extauth),
      users: this.#throttle(host, host.throttle.userLimit, 'user'),
      addresses: this.#throttle(host, host.throttle.addressLimit, 'address'),
    };
  }

  #throttle(host: HostConfig, limit: number, kind: string): FailureThrottle {
    const c = this.#counters;
    return c === null ? new MemoryThrottle(limit, host.throttle.windowMs) : new StoreThrottle(c, limit, host.throttle.windowMs, `${kind}:${host.name ?? '*'}:`);
  }

  #engine(x: ExtauthConfig): ExtauthEngine | null {
    if (x.command === null) return null;
    // Hosts whose pool settings are equal share one pool (the command list is not a pool setting).
    const { commands: _commands, ...pool } = x;
    const key = JSON.stringify(pool);
    let engine = this.#engines.get(key);
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
      this.#engines.set(key, engine);
    }
    return engine;
  }
}

/**
 * A short name of the script for logs: the interpreter's and the script's file names, never
 * further arguments (they may hold a database password).
 */
function scriptName(argv: readonly string[]): string {
  return argv.slice(0, 2).map((a) => basename(a)).join(' ');
}
