/**
 * The extauth bridge in lockstep, for a caller that writes one query, waits a fixed time for
 * one read and takes whatever that read returns as the answer: Prosody's
 * mod_auth_external_insecure in its default blocking mode, on a pty. Such a caller cannot tell
 * one answer from another, so nothing may be written that it could misread:
 *
 * - One answer per write of the caller, and never after the caller's deadline: its timeout
 *   (Prosody's `external_auth_timeout`) less a margin, counted from the first byte of the
 *   query, and from before any stall of this process that may have held that byte unread
 *   (liveness.ts). A query not answered by then is abandoned: nothing is written for it, and the
 *   engine kills a script process still busy with it (RunOptions.deadline).
 * - A write that holds more than one query (a newline inside a password, through XEP-0078
 *   legacy auth or an in-band password change), or a query that arrives while another is
 *   unanswered, is an injection or a desync: none of it reaches the script, the query in
 *   progress is abandoned, and one "no" is written: the one answer the caller now waits for.
 * - Bytes that reached the terminal before it was raw (`early`, terminal.ts) may have been
 *   echoed to the caller, which then took the echo as their answer, and were open to line
 *   editing: they get no answer at all.
 *
 * The unit is the caller's write, seen as the bytes from a query boundary to the end of the
 * chunk that leaves the reader at a boundary again. A pty hands one write of up to 1792 bytes
 * (one tty buffer) to the reading side's line discipline in one piece while the reader keeps
 * up, and Prosody's queries are at most 1001 bytes, so a write is not split between reads.
 */
import type { Readable } from 'node:stream';
import type { Accounts } from '../accounts/accounts.js';
import { classify, errorCode, messageOf } from '../accounts/outcome.js';
import { parseQuery, type Query, type QueryLimits } from '../extauth/query.js';
import { wireProtocol, type ProtocolName } from '../extauth/wire/protocol.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { EXTAUTH_REPLIES, type BridgeStats } from './bridge.js';
import { identityOf } from '../identity/username.js';
import { arrivedNoEarlierThan, holdLivenessClock } from './liveness.js';

export interface LockstepOptions {
  readonly input: Readable;
  /** Writes one answer; on a terminal, synchronously (fs.writeSync), so it is out at once. */
  readonly write: (bytes: Buffer) => void;
  /** Protocol spoken with the caller. */
  readonly protocol: ProtocolName;
  readonly accounts: Pick<Accounts, 'query'>;
  readonly limits: QueryLimits;
  /** How long the caller waits for an answer (Prosody's external_auth_timeout), ms. */
  readonly callerTimeoutMs: number;
  /** Bytes that arrived before the terminal was raw: never answered. */
  readonly early?: Buffer | undefined;
  /**
   * Since when (performance.now() ms) input may have been waiting unread: the first read may
   * hold a query written before the bridge started. Default: now. The command passes the time
   * its terminal was taken, or 0 (the process's start) on pipes.
   */
  readonly inputSince?: number | undefined;
  readonly logger?: Logger;
  /** Told of each refused write (`desync`) and each query abandoned at the deadline (metrics). */
  readonly onEvent?: ((event: 'desync' | 'abandoned') => void) | undefined;
  /**
   * Aborted when the service stops, where nothing else would answer the caller (serve holding an
   * ejabberd worker's own pipes, handoff.ts): a query in progress is answered "no" at once, the
   * one answer the caller waits for, and the bridge stops reading.
   */
  readonly stop?: AbortSignal | undefined;
}

export interface LockstepStats extends BridgeStats {
  /** Writes holding several queries, or arriving while one was unanswered: answered one "no". */
  desyncs: number;
  /** Queries not answered before the caller's deadline: nothing was written for them. */
  abandoned: number;
  /** Queries that arrived before the terminal was raw: never answered. */
  early: number;
}

/**
 * How long before the caller's deadline the last answer may be written, ms: a quarter of the
 * timeout, at most one second. A stall of this process between the caller's write and its read
 * is counted by the liveness clock (liveness.ts); the margin covers what it cannot see (the
 * kernel's delivery, a stall between the last check and the write, the caller's own reading).
 */
export function lockstepMargin(callerTimeoutMs: number): number {
  return Math.min(1000, callerTimeoutMs / 4);
}

/** One write of the caller, from its first byte to a query boundary. */
interface Unit {
  readonly started: number;
  readonly queries: (Buffer | null)[];
  /** 'early': arrived before the terminal was raw; 'desync': began while a query was unanswered. */
  taint: 'early' | 'desync' | null;
}

/** The query being answered; its answer is written only while it is still `current`. */
interface Pending {
  readonly query: Query;
  /** When the query's first byte arrived at the latest (performance.now() ms, liveness.ts). */
  readonly started: number;
  readonly timer: NodeJS.Timeout;
}

/** Serve until the input ends. Rejects only if writing an answer fails (the caller went away). */
export function runLockstepBridge(options: LockstepOptions): Promise<LockstepStats> {
  const { input, accounts, limits } = options;
  const log = options.logger ?? silentLogger;
  const wire = wireProtocol(options.protocol);
  const reader = wire.createQueryReader(Math.min(limits.maxQueryBytes, wire.maxQueryBytes));
  const budget = options.callerTimeoutMs - lockstepMargin(options.callerTimeoutMs);
  const stats: LockstepStats = { queries: 0, yes: 0, no: 0, errors: 0, desyncs: 0, abandoned: 0, early: 0 };
  let current: Pending | null = null;
  let unit: Unit | null = null;
  let failed = false;

  return new Promise<LockstepStats>((resolve, reject) => {
    const releaseClock = holdLivenessClock();
    // Input waiting when the bridge starts is older than the clock (liveness.ts): until the
    // first read, or until the clock has ticked twice since the start (by then anything that
    // was waiting has been read), count it from when it may have started waiting.
    const openedAt = performance.now();
    let floor = options.inputSince ?? openedAt;
    const arrived = (): number => {
      const bound = arrivedNoEarlierThan();
      return bound >= openedAt ? bound : Math.min(bound, floor);
    };
    const write = (bytes: Buffer): boolean => {
      if (failed) return false;
      try {
        options.write(bytes);
        return true;
      } catch (err) {
        failed = true;
        input.pause();
        releaseClock();
        reject(err);
        return false;
      }
    };

    /**
     * Write the answer to a unit that began at `started`, unless the caller stopped waiting.
     * Returns whether it was written.
     */
    const answer = (started: number, yes: boolean): boolean => {
      if (performance.now() >= started + budget) {
        stats.abandoned++;
        options.onEvent?.('abandoned');
        log.warn({}, "answer ready after the caller's deadline; nothing written");
        return false;
      }
      if (!write(wire.encodeReply(yes))) return false;
      if (yes) stats.yes++;
      else stats.no++;
      return true;
    };

    const abandon = (p: Pending, why: string): void => {
      if (current !== p) return;
      current = null;
      clearTimeout(p.timer);
      stats.abandoned++;
      options.onEvent?.('abandoned');
      log.warn({ command: p.query.command, user: identityOf(p.query.user), host: p.query.host }, `query abandoned, nothing written: ${why}`);
    };

    const start = (q: Query, started: number): void => {
      const deadline = started + budget;
      const p: Pending = {
        query: q,
        started,
        timer: setTimeout(() => abandon(p, "no answer before the caller's deadline"), Math.max(0, deadline - performance.now())),
      };
      current = p;
      // The engine gets the same deadline: a script still busy with the query then is replaced.
      accounts.query(q, { deadline }).then(
        (yes) => settle(p, yes),
        (err: unknown) => {
          stats.errors++;
          const cls = classify(err);
          // Logged as answered only once the answer is out: an error that comes back at the
          // caller's deadline (the engine's refusal of the abandoned query) answered nothing.
          if (settle(p, EXTAUTH_REPLIES[cls])) {
            log.warn({ command: q.command, user: identityOf(q.user), host: q.host, code: errorCode(err), class: cls }, `query answered no: ${messageOf(err)}`);
          }
        },
      );
    };

    /** Answer `p` if it is still the query in progress; returns whether an answer was written. */
    const settle = (p: Pending, yes: boolean): boolean => {
      if (current !== p) return false; // abandoned: its answer is never written
      current = null;
      clearTimeout(p.timer);
      return answer(p.started, yes);
    };

    const refuse = (u: Unit, why: string): void => {
      stats.desyncs++;
      options.onEvent?.('desync');
      log.warn({ queries: u.queries.length }, `${why}: nothing sent to the script, one "no" written`);
      answer(u.started, false);
    };

    /** A whole write of the caller has arrived. */
    const complete = (u: Unit): void => {
      stats.queries += u.queries.length;
      if (u.taint === 'early') return;
      if (u.taint === 'desync') return refuse(u, 'a query arrived while another was unanswered (a desync, or an injected line)');
      if (u.queries.length !== 1) return refuse(u, 'several queries in one write (a newline inside a field: an injection)');
      const bytes = u.queries[0]!;
      if (bytes === null) {
        stats.errors++;
        log.warn({}, 'query too long or empty; answered no');
        answer(u.started, false);
        return;
      }
      const q = parseQuery(bytes, limits);
      if (q instanceof Error) {
        stats.errors++;
        log.warn({ code: q.code, field: q.field }, `malformed query answered no: ${q.message}`);
        answer(u.started, false);
        return;
      }
      start(q, u.started);
    };

    const feed = (chunk: Buffer, u: Unit): void => {
      reader.push(chunk, (q) => u.queries.push(q));
      if (!reader.atBoundary) return; // the rest of the write is still to come
      unit = null;
      complete(u);
    };

    if (options.early !== undefined && options.early.length > 0) {
      const u: Unit = { started: arrived(), queries: [], taint: 'early' };
      unit = u;
      feed(options.early, u);
      stats.early = u.queries.length + (reader.atBoundary ? 0 : 1);
      log.warn(
        { bytes: options.early.length, queries: stats.early },
        'input that arrived before the terminal was raw is not answered (it may have been echoed or line-edited)',
      );
    }

    let stopped = false;
    input.on('data', (chunk: Buffer) => {
      if (failed || stopped) return;
      let u = unit;
      if (u === null) {
        u = { started: arrived(), queries: [], taint: null };
        unit = u;
      }
      // What waited before the bridge started is read by now: the clock covers the rest.
      floor = Number.POSITIVE_INFINITY;
      if (current !== null) {
        u.taint ??= 'desync';
        abandon(current, 'another write arrived before its answer');
      }
      feed(chunk, u);
    });
    const end = (): void => {
      options.stop?.removeEventListener('abort', stop);
      releaseClock();
      if (current !== null) clearTimeout(current.timer);
      current = null;
      if (!failed) resolve(stats);
    };
    const stop = (): void => {
      stopped = true;
      const p = current;
      if (p !== null && settle(p, false)) log.info({ command: p.query.command, user: identityOf(p.query.user), host: p.query.host }, 'query answered no: the service is stopping');
      input.pause();
      end();
    };
    if (options.stop?.aborted === true) stop();
    else options.stop?.addEventListener('abort', stop, { once: true });
    input.once('end', end);
    input.once('error', (err) => {
      log.warn({ err: err.message }, 'bridge input error');
      end();
    });
  });
}
