/**
 * The extauth bridge: reads queries from a server (ejabberd's `extauth_program`, Prosody's
 * `external_auth_command`) in the serve protocol, answers each from the accounts engine.
 *
 * Replies carry no ids, so they are written strictly in the order the queries came, even
 * though the queries run concurrently across the pool. Anything that is not a clear yes
 * (an error, a throttled attempt, a malformed or unknown query) is answered "no" and logged,
 * without the password.
 */
import type { Readable, Writable } from 'node:stream';
import type { Accounts } from '../accounts/accounts.js';
import { classify, errorCode, messageOf, type FailureClass } from '../accounts/outcome.js';
import { DEFAULT_QUERY_LIMITS, parseQuery, type Query, type QueryLimits } from '../extauth/query.js';
import { wireProtocol, type ProtocolName } from '../extauth/wire/protocol.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { identityOf } from '../identity/username.js';

/**
 * The bounds on queries a server may send: a field as the engine allows it, the whole query as
 * the most generous engine allows it (each engine checks its own bound again).
 */
export function servedQueryLimits(accounts: Pick<Accounts, 'engines'>): QueryLimits {
  return { maxFieldBytes: DEFAULT_QUERY_LIMITS.maxFieldBytes, maxQueryBytes: Math.max(...accounts.engines().map((e) => e.limits.maxQueryBytes)) };
}

/**
 * The reply for each failure class (accounts/outcome.ts), for this bridge and the lockstep one.
 * The extauth protocol (ejabberd's extauth, Prosody's mod_auth_external) replies success or
 * failure and nothing else, with no "try later": every class is a failure, and the log says which.
 */
export const EXTAUTH_REPLIES: Readonly<Record<FailureClass, boolean>> = {
  wrong: false,
  invalid: false,
  throttled: false,
  unsupported: false,
  temporary: false,
  internal: false,
};

export interface BridgeOptions {
  readonly input: Readable;
  readonly output: Writable;
  /** Protocol spoken with the server on input/output. */
  readonly protocol: ProtocolName;
  readonly accounts: Pick<Accounts, 'query'>;
  readonly limits: QueryLimits;
  /**
   * Queries in progress before input is paused (memory stays bounded). A function is asked
   * each time: a configuration reload may change the pools' capacity.
   */
  readonly maxInFlight?: number | (() => number);
  readonly logger?: Logger;
}

/** One query's place in the order of replies: its answer, null until it has one. */
interface Slot {
  yes: boolean | null;
  /** The query read after it. */
  next: Slot | null;
}

export interface BridgeStats {
  queries: number;
  yes: number;
  no: number;
  errors: number;
}

/**
 * Serve until the input ends and every reply is written. Resolves with counts; rejects only
 * if the output fails (the server went away).
 */
export function runBridge(options: BridgeOptions): Promise<BridgeStats> {
  const { input, output, accounts, limits } = options;
  const log = options.logger ?? silentLogger;
  const wire = wireProtocol(options.protocol);
  const reader = wire.createQueryReader(Math.min(limits.maxQueryBytes, wire.maxQueryBytes));
  const limit = options.maxInFlight ?? 10_000;
  const inFlightLimit = typeof limit === 'function' ? (): number => Math.max(1, limit()) : (): number => Math.max(1, limit);
  /**
   * Replies in query order, a linked list from the next one to write (`first`) to the last
   * query read: written replies leave it at once, whatever the flood.
   */
  let first: Slot | null = null;
  let last: Slot | null = null;
  /**
   * Queries read but not yet submitted, because `maxInFlight` are already with the engines.
   * One input chunk can carry thousands of queries; pausing the stream does not stop those,
   * so they wait here (bounded by one chunk) instead of overflowing the pool's queue.
   */
  const backlog: { slot: Slot; q: Query }[] = [];
  let submitted = 0;
  const stats: BridgeStats = { queries: 0, yes: 0, no: 0, errors: 0 };
  let ended = false;
  let failed = false;

  return new Promise<BridgeStats>((resolve, reject) => {
    const finish = (): void => {
      if (ended && first === null && !failed) resolve(stats);
    };

    // Every error of the output is the same news (the server went away); the first one rejects.
    output.on('error', (err) => {
      failed = true;
      input.pause();
      reject(err);
    });

    const flush = (): void => {
      let batch: Buffer[] | null = null;
      while (first !== null && first.yes !== null) {
        (batch ??= []).push(wire.encodeReply(first.yes));
        first = first.next;
      }
      if (first === null) last = null;
      // Every reply ready in one write.
      if (batch !== null && !failed) output.write(Buffer.concat(batch));
      finish();
    };

    const answer = (slot: Slot, yes: boolean): void => {
      slot.yes = yes;
      if (yes) stats.yes++;
      else stats.no++;
    };

    const submit = (slot: Slot, q: Query): void => {
      submitted++;
      accounts.query(q).then(
        (yes) => settle(slot, yes),
        (err: unknown) => {
          stats.errors++;
          const cls = classify(err);
          log.warn({ command: q.command, user: identityOf(q.user), host: q.host, code: errorCode(err), class: cls }, `query answered no: ${messageOf(err)}`);
          settle(slot, EXTAUTH_REPLIES[cls]);
        },
      );
    };

    const settle = (slot: Slot, yes: boolean): void => {
      submitted--;
      answer(slot, yes);
      while (submitted < inFlightLimit() && backlog.length > 0) {
        const next = backlog.shift()!;
        submit(next.slot, next.q);
      }
      if (backlog.length === 0 && input.isPaused() && !failed) input.resume();
      flush();
    };

    const onQuery = (bytes: Buffer | null): void => {
      stats.queries++;
      const slot: Slot = { yes: null, next: null };
      if (last === null) first = slot;
      else last.next = slot;
      last = slot;
      if (bytes === null) {
        log.warn({}, 'query too long or empty; answered no');
        stats.errors++;
        answer(slot, false);
        return;
      }
      const q = parseQuery(bytes, limits);
      if (q instanceof Error) {
        log.warn({ code: q.code, field: q.field }, `malformed query answered no: ${q.message}`);
        stats.errors++;
        answer(slot, false);
        return;
      }
      if (submitted < inFlightLimit()) submit(slot, q);
      else backlog.push({ slot, q });
    };

    input.on('data', (chunk: Buffer) => {
      try {
        reader.push(chunk, onQuery);
      } catch (err) {
        // The serve-side readers never throw on content, nor does answering a query: this is a
        // bug, not a bad peer. Nothing more is written (the replies would no longer line up
        // with the queries); the caller ends the connection.
        log.error({ err: (err as Error).message }, 'bridge failed on a query; no more replies');
        failed = true;
        reject(err);
        return;
      }
      if (backlog.length > 0) input.pause();
      flush();
    });
    input.once('end', () => {
      if (reader.pending > 0) log.warn({ bytes: reader.pending }, 'input ended inside a query; ignored');
      ended = true;
      finish();
    });
    input.once('error', (err) => {
      log.warn({ err: err.message }, 'bridge input error');
      ended = true;
      finish();
    });
  });
}
