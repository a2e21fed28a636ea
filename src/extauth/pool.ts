/**
 * A pool of auth script processes (DESIGN.md "The engine"). Queries go to an idle process or
 * wait in a bounded FIFO; a full queue fails fast with ERR_EXTAUTH_OVERLOADED (piscina's
 * maxQueue). Processes that leave (timeout, bad reply, exit) are replaced, with exponential
 * backoff while the program keeps dying before answering anything. `close()` drains, then
 * ends every process: EOF, SIGTERM, SIGKILL, so nothing is left behind.
 */
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { Backoff } from './backoff.js';
import { ExtauthError, type ExtauthErrorCode } from './errors.js';
import { Job } from './job.js';
import { AuthProcess, type ProcessEnd, type ProcessEvents, type ProcessOptions } from './process.js';
import { JobQueue } from './queue.js';
import { wireProtocol, type ProtocolName, type WireProtocol } from './wire/protocol.js';

export interface PoolOptions {
  /** Program and arguments, run without a shell. */
  readonly argv: readonly string[];
  readonly cwd?: string | undefined;
  readonly env?: NodeJS.ProcessEnv | undefined;
  readonly protocol: ProtocolName;
  /** Processes kept running (external_auth_processes). */
  readonly size: number;
  /** Longest wait for one reply, ms (external_auth_timeout). */
  readonly timeoutMs: number;
  /** Queries allowed to wait for an idle process. */
  readonly queueLimit: number;
  /** Longest wait in the queue, ms. */
  readonly queueTimeoutMs: number;
  /** Between SIGTERM and SIGKILL, ms. */
  readonly killGraceMs?: number;
  /** Longest reply line accepted (generic protocol), bytes. */
  readonly maxReplyBytes?: number;
  readonly backoffInitialMs?: number;
  readonly backoffMaxMs?: number;
  /** A new process must stay silent this long before it takes a query, ms. */
  readonly startQuietMs?: number;
  readonly logger?: Logger;
}

export interface RunOptions {
  /** Redact this from anything the script echoes (the query's password). */
  readonly secret?: string | undefined;
  readonly signal?: AbortSignal | undefined;
  /**
   * When the caller stops waiting (performance.now() ms): the query fails with
   * ERR_EXTAUTH_DEADLINE then, queued or in flight, and a process still busy with it is
   * killed and replaced, so no answer can arrive after it.
   */
  readonly deadline?: number | undefined;
}

export interface PoolStats {
  readonly size: number;
  /** Processes starting, idle or busy. */
  readonly live: number;
  readonly idle: number;
  readonly busy: number;
  readonly queued: number;
  /** Replacements started since the pool opened. */
  readonly restarts: number;
  readonly timeouts: number;
  readonly badReplies: number;
  readonly exits: number;
  /** Consecutive start-up failures (0 when healthy). */
  readonly failures: number;
}

export class ExtauthPool {
  readonly #o: Required<Omit<PoolOptions, 'cwd' | 'env'>> & Pick<PoolOptions, 'cwd' | 'env'>;
  readonly #protocol: WireProtocol;
  readonly #log: Logger;
  readonly #processOptions: ProcessOptions;
  readonly #events: ProcessEvents;
  readonly #queue = new JobQueue();
  readonly #idle: AuthProcess[] = [];
  /** In service: starting, ready or busy. */
  readonly #live = new Set<AuthProcess>();
  /** Every OS process not yet reaped, including those being killed. */
  readonly #all = new Set<AuthProcess>();
  readonly #backoff: Backoff;
  #startTimers = new Set<NodeJS.Timeout>();
  #lastFailure: ProcessEnd | null = null;
  /** When the next delayed (backed-off) start is due, ms since epoch; 0 when none is. */
  #nextStartAt = 0;
  #closing: Promise<void> | null = null;
  /** No new queries: closing, or draining before closing. */
  #closed = false;
  /** Closed to new queries, still serving the queued ones. */
  #draining = false;
  #restarts = 0;
  #timeouts = 0;
  #badReplies = 0;
  #exits = 0;

  constructor(options: PoolOptions) {
    if (options.argv.length === 0) throw new TypeError('argv must name a program');
    if (!Number.isInteger(options.size) || options.size < 1) throw new TypeError('size must be a positive integer');
    this.#o = {
      killGraceMs: 2000,
      maxReplyBytes: 256,
      backoffInitialMs: 100,
      backoffMaxMs: 30_000,
      startQuietMs: 100,
      logger: silentLogger,
      ...options,
    };
    this.#protocol = wireProtocol(options.protocol);
    this.#log = this.#o.logger;
    this.#backoff = new Backoff(this.#o.backoffInitialMs, this.#o.backoffMaxMs);
    this.#processOptions = {
      argv: options.argv,
      cwd: options.cwd,
      env: options.env,
      protocol: this.#protocol,
      timeoutMs: this.#o.timeoutMs,
      killGraceMs: this.#o.killGraceMs,
      maxReplyBytes: this.#o.maxReplyBytes,
      startQuietMs: this.#o.startQuietMs,
      logger: this.#log,
    };
    this.#events = {
      idle: (p) => this.#onIdle(p),
      gone: (p, end) => this.#onGone(p, end),
      closed: (p) => this.#all.delete(p),
    };
    for (let i = 0; i < options.size; i++) this.#start();
  }

  get protocol(): WireProtocol {
    return this.#protocol;
  }

  /**
   * Queries a caller may have outstanding without any being refused as overloaded: the queue
   * must be able to hold them all even while every process is busy or still starting.
   */
  get capacity(): number {
    return this.#o.queueLimit > 0 ? this.#o.queueLimit : this.#o.size;
  }

  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Send one query (unframed: text, or bytes) and resolve with the script's yes/no. Rejects
   * with an ExtauthError for anything else: never resolves `true` unless the script said
   * exactly yes. The caller has validated the query (query.ts).
   */
  run(query: string | Buffer, options: RunOptions = {}): Promise<boolean> {
    return new Promise<boolean>((resolve, reject) => {
      if (this.#closed) {
        reject(new ExtauthError('ERR_EXTAUTH_CLOSED'));
        return;
      }
      const { signal, deadline } = options;
      if (signal?.aborted) {
        reject(new ExtauthError('ERR_EXTAUTH_ABORTED', undefined, { cause: signal.reason }));
        return;
      }
      if (deadline !== undefined && deadline <= performance.now()) {
        reject(new ExtauthError('ERR_EXTAUTH_DEADLINE'));
        return;
      }
      const frame = typeof query === 'string' ? this.#protocol.frameText(query) : this.#protocol.encodeQuery(query);
      const job = new Job(frame, options.secret, resolve, reject);
      if (signal !== undefined) job.watch(signal);
      if (deadline !== undefined) job.expireAt(deadline);
      const proc = this.#idle.pop();
      if (proc !== undefined) {
        proc.execute(job);
        return;
      }
      if (this.#live.size === 0 && this.#nextStartAt - Date.now() > this.#o.queueTimeoutMs) {
        // Every process is down and the next restart is further off than the queue wait:
        // answer now rather than make every caller wait out the queue timeout.
        job.fail(this.#unavailable());
        return;
      }
      if (this.#queue.size >= this.#o.queueLimit) {
        job.fail(new ExtauthError('ERR_EXTAUTH_OVERLOADED', `queue limit of ${this.#o.queueLimit} reached`));
        return;
      }
      job.expireIn(this.#o.queueTimeoutMs, () =>
        new ExtauthError('ERR_EXTAUTH_OVERLOADED', `no auth process free within ${this.#o.queueTimeoutMs} ms`),
      );
      this.#queue.push(job);
    });
  }

  stats(): PoolStats {
    let idle = 0;
    let busy = 0;
    for (const p of this.#live) {
      if (p.state === 'ready') idle++;
      else if (p.state === 'busy') busy++;
    }
    return {
      size: this.#o.size,
      live: this.#live.size,
      idle,
      busy,
      queued: this.#queue.size,
      restarts: this.#restarts,
      timeouts: this.#timeouts,
      badReplies: this.#badReplies,
      exits: this.#exits,
      failures: this.#backoff.failures,
    };
  }

  /** For each process serving now (ready or busy): when it became ready (Date.now() ms). */
  servingSince(): number[] {
    const out: number[] = [];
    for (const p of this.#live) if ((p.state === 'ready' || p.state === 'busy') && p.readyAt !== null) out.push(p.readyAt);
    return out;
  }

  /** PIDs of the OS processes not yet reaped (for diagnostics and tests). */
  pids(): number[] {
    return [...this.#all].map((p) => p.pid).filter((pid): pid is number => pid !== undefined);
  }

  /**
   * Resolves true once every process has started and the pool has run `settleMs` with all of
   * them serving and no start-up failure; false if that does not happen within `timeoutMs`
   * or the pool closes. A process counts as started after its quiet period, which a script
   * that dies while loading may outlive: the settle time is there to see that death.
   */
  whenReady(options: { timeoutMs: number; settleMs?: number }): Promise<boolean> {
    const settleMs = options.settleMs ?? 1000;
    const deadline = Date.now() + options.timeoutMs;
    let okSince = 0;
    return new Promise<boolean>((resolve) => {
      const check = (): void => {
        const now = Date.now();
        if (this.#closed) return resolve(false);
        const s = this.stats();
        if (s.failures === 0 && s.idle + s.busy >= this.#o.size) {
          if (okSince === 0) okSince = now;
          if (now - okSince >= settleMs) return resolve(true);
        } else {
          okSince = 0;
        }
        if (now >= deadline) return resolve(false);
        setTimeout(check, 20).unref();
      };
      check();
    });
  }

  /**
   * Stop: queued queries fail with ERR_EXTAUTH_CLOSED, queries in flight finish (bounded by
   * their timeout), then every process gets EOF, SIGTERM after `eofGraceMs`, SIGKILL after the
   * kill grace. With `force`, in-flight queries fail and processes get SIGKILL at once. With
   * `drain` (a configuration reload hands new queries to a new pool), new queries are refused
   * but the queued ones are still served (each bounded by its queue wait) before the stop.
   * Resolves when every process has been reaped.
   */
  close(options: { eofGraceMs?: number; force?: boolean; drain?: boolean } = {}): Promise<void> {
    if (this.#closing !== null) return this.#closing;
    this.#closed = true;
    const eofGraceMs = options.eofGraceMs ?? 1000;
    if (options.drain === true && options.force !== true) {
      this.#draining = true;
      this.#closing = this.#queueEmptied().then(() => this.#stop(eofGraceMs, false));
    } else {
      this.#closing = this.#stop(eofGraceMs, options.force === true);
    }
    return this.#closing;
  }

  /** Resolves when no job waits in the queue (served, expired or aborted). */
  #queueEmptied(): Promise<void> {
    return new Promise<void>((resolve) => {
      const check = (): void => {
        if (this.#queue.size === 0) resolve();
        else setTimeout(check, 10);
      };
      check();
    });
  }

  #stop(eofGraceMs: number, force: boolean): Promise<void> {
    this.#draining = false;
    for (const t of this.#startTimers) clearTimeout(t);
    this.#startTimers.clear();
    for (const job of this.#queue.drain()) job.fail(new ExtauthError('ERR_EXTAUTH_CLOSED'));
    this.#idle.length = 0;
    const waits = [...this.#all].map((p) => (force ? p.kill() : p.shutdown(eofGraceMs)));
    return Promise.all(waits).then(() => undefined);
  }

  #start(): void {
    const proc = new AuthProcess(this.#processOptions, this.#events);
    this.#live.add(proc);
    this.#all.add(proc);
  }

  #onIdle(proc: AuthProcess): void {
    const job = this.#closed && !this.#draining ? undefined : this.#queue.shift();
    if (job !== undefined) proc.execute(job);
    else if (this.#closed) void proc.shutdown(0);
    else this.#idle.push(proc);
  }

  #onGone(proc: AuthProcess, end: ProcessEnd): void {
    this.#live.delete(proc);
    const i = this.#idle.indexOf(proc);
    if (i !== -1) this.#idle.splice(i, 1);
    // While draining, a process that leaves is replaced as long as queued queries need one.
    if (this.#closed && (!this.#draining || this.#queue.size === 0)) return;

    if (end.code === 'ERR_EXTAUTH_TIMEOUT' || end.code === 'ERR_EXTAUTH_DEADLINE') this.#timeouts++;
    else if (end.code === 'ERR_EXTAUTH_BAD_REPLY') this.#badReplies++;
    else this.#exits++;

    let delay = 0;
    if (end.answered) {
      const ended = this.#backoff.succeed();
      if (ended > 0) this.#log.info({ failures: ended }, 'auth script recovered');
      this.#log.warn({ code: end.code, exitCode: end.exitCode, signal: end.signal }, `auth process replaced: ${end.detail}`);
    } else {
      delay = this.#backoff.fail();
      const failures = this.#backoff.failures;
      // Logged once per burst, then at powers of two, not once per crash.
      if ((failures & (failures - 1)) === 0) {
        this.#log.error(
          { code: end.code, exitCode: end.exitCode, signal: end.signal, failures, retryInMs: delay },
          `auth script process ended before giving any good answer: ${end.detail}`,
        );
      }
    }
    this.#lastFailure = end;
    this.#restarts++;
    if (delay === 0) {
      this.#start();
    } else {
      this.#nextStartAt = Math.max(this.#nextStartAt, Date.now() + delay);
      const t = setTimeout(() => {
        this.#startTimers.delete(t);
        if (this.#startTimers.size === 0) this.#nextStartAt = 0;
        if (!this.#closed || this.#draining) this.#start();
      }, delay);
      this.#startTimers.add(t);
    }
    if (this.#live.size === 0 && delay > this.#o.queueTimeoutMs) {
      // Nobody will take the queued jobs before they expire: fail them now.
      for (const job of this.#queue.drain()) job.fail(this.#unavailable());
    }
  }

  #unavailable(): ExtauthError {
    const last = this.#lastFailure;
    const code: ExtauthErrorCode = last?.code === 'ERR_EXTAUTH_SPAWN_FAILED' ? 'ERR_EXTAUTH_SPAWN_FAILED' : 'ERR_EXTAUTH_UNAVAILABLE';
    return new ExtauthError(code, `no auth process available (restarting after ${this.#backoff.failures} failures${last ? `: ${last.detail}` : ''})`);
  }
}
