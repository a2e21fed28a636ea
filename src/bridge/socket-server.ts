/**
 * The extauth protocol served by `gatehouse serve` on a Unix socket (or loopback TCP): each
 * connection is one worker of the server (an ejabberd extauth worker, through a program such as
 * `socat STDIO UNIX-CONNECT:/run/gatehouse/extauth.sock`), answered in lockstep (lockstep.ts)
 * from the service's accounts: the same pools, cache, throttles, token check, logs and metrics
 * as the other faces, instead of one Node process and one pool per worker.
 *
 * A connection from gatehouse-extauth-connect (C) on the Unix socket may hand its worker's
 * pipes over (handoff.ts): serve then reads the worker's queries and writes its answers on those
 * pipes itself, and the connection is only the worker's lifeline.
 */
import { setMaxListeners } from 'node:events';
import type { Socket } from 'node:net';
import { Counter, Gauge } from 'prom-client';
import type { Accounts } from '../accounts/accounts.js';
import type { QueryLimits } from '../extauth/query.js';
import { wireProtocol, type ProtocolName } from '../extauth/wire/protocol.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { Registry } from '../metrics/registry.js';
import { StreamListeners, type ListenOptions } from '../net/listen.js';
import { awaitHandoff, fdPass, HANDOFF_ACK } from './handoff.js';
import { runLockstepBridge } from './lockstep.js';

export interface ExtauthSocketOptions {
  readonly accounts: Pick<Accounts, 'query'>;
  /** Protocol spoken on the connections: "ejabberd" (2-byte frames) or "generic" (lines). */
  readonly protocol: ProtocolName;
  /** How long a worker waits for an answer, ms (ejabberd: a fixed 30 s). */
  readonly callerTimeoutMs: number;
  readonly limits: QueryLimits;
  readonly logger?: Logger;
  /** Connections served at once; more are closed at once. */
  readonly maxConnections?: number;
  /** Where to count connections and lockstep events, when given. */
  readonly metrics?: Registry;
  /**
   * Whether a connector may hand its worker's pipes over (handoff.ts). Default: yes, with the
   * ejabberd protocol, where the fdpass addon was built.
   */
  readonly handoff?: boolean;
}

export class ExtauthSocketServer {
  readonly #o: ExtauthSocketOptions;
  readonly #log: Logger;
  readonly #listeners: StreamListeners;
  readonly #open: Gauge | null;
  readonly #events: Counter<'event'> | null;
  readonly #handoffs: Counter<'outcome'> | null;
  readonly #pass: ReturnType<typeof fdPass>;
  /** Aborted by close(): a worker served on its own pipes gets a "no" for a query in progress. */
  readonly #stopping = new AbortController();
  #id = 0;

  constructor(options: ExtauthSocketOptions) {
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
    const max = options.maxConnections ?? 1000;
    // One listener per worker on its pipes: as many as there are workers, not a leak.
    setMaxListeners(max + 1, this.#stopping.signal);
    this.#pass = (options.handoff ?? options.protocol === 'ejabberd') ? fdPass() : null;
    this.#listeners = new StreamListeners({
      maxConnections: max,
      // Unread until its first bytes are seen: they may carry the pipes (handoff.ts).
      pauseOnConnect: this.#pass !== null,
      onRefused: () => this.#log.warn({ max }, 'extauth connection refused: too many connections'),
      serve: (socket) => this.#serve(socket),
    });
    const registers = options.metrics === undefined ? null : [options.metrics];
    this.#open =
      registers === null
        ? null
        : new Gauge({ name: 'gatehouse_extauth_socket_connections', help: 'Workers connected to the extauth socket.', registers });
    this.#events =
      registers === null
        ? null
        : new Counter({
            name: 'gatehouse_extauth_lockstep_events_total',
            help: 'Lockstep events on the extauth socket: desync (a write with several queries, or one sent before the previous answer: one "no" written, nothing sent to the script) and abandoned (no answer before the worker\'s deadline: nothing written).',
            labelNames: ['event'] as const,
            registers,
          });
    this.#handoffs =
      registers === null
        ? null
        : new Counter({
            name: 'gatehouse_extauth_handoffs_total',
            help: 'Connectors that handed their worker\'s pipes to serve (taken), or whose hello broke the rules (refused).',
            labelNames: ['outcome'] as const,
            registers,
          });
  }

  /** Whether connectors on the Unix socket may hand their workers' pipes over (handoff.ts). */
  get handoff(): boolean {
    return this.#pass !== null;
  }

  /** Connections open now (a worker served on its own pipes counts by its lifeline). */
  get connections(): number {
    return this.#listeners.connections;
  }

  /** Start listening; resolves with the bound TCP port (if any). */
  listen(options: ListenOptions): Promise<{ port?: number }> {
    return this.#listeners.listen(options);
  }

  /**
   * Stop accepting and close every connection: the workers' programs see EOF and answer no; a
   * worker served on its own pipes gets its "no" from serve, then sees its program end.
   */
  close(): Promise<void> {
    this.#stopping.abort();
    return this.#listeners.close();
  }

  #serve(socket: Socket): void {
    const log = this.#log.child({ conn: ++this.#id });
    this.#open?.inc();
    socket.setNoDelay(true);
    // A worker that went away: its answer has nowhere to go, and nothing else is lost.
    socket.on('error', (err) => log.debug({ err: err.message }, 'extauth connection error'));
    socket.once('close', () => this.#open?.dec());
    // Bytes may wait unread from here on while the handoff is looked for: a first query is
    // timed from the connection, not from when it was read (lockstep.ts, inputSince).
    const since = performance.now();
    // Only a Unix socket carries descriptors; on TCP the first bytes are a query.
    if (this.#pass === null || socket.remoteAddress !== undefined) {
      socket.resume();
      return this.#lockstep(socket, log, since);
    }
    void awaitHandoff(socket, this.#pass).then((h) => {
      if (h.kind === 'stream') {
        socket.resume();
        return this.#lockstep(socket, log, since);
      }
      if (h.kind === 'closed') return void socket.destroy();
      if (h.kind === 'refused') {
        this.#handoffs?.inc({ outcome: 'refused' });
        if (!h.consumed) {
          log.warn({}, `extauth handoff refused: ${h.why}; connection closed`);
          return void socket.destroy();
        }
        // "no", as a serve that cannot take pipes answers: the connector relays on this connection.
        log.warn({}, `extauth handoff refused: ${h.why}; answered no, the connection is relayed`);
        socket.write(wireProtocol(this.#o.protocol).encodeReply(false));
        socket.resume();
        return this.#lockstep(socket, log, since);
      }
      this.#handoffs?.inc({ outcome: 'taken' });
      this.#onPipes(socket, h.input, h.output, log, since);
    }).catch((err: unknown) => {
      // Whatever a connection sends, it must not take serve down: this one ends.
      log.error({ err: (err as Error).message }, 'extauth connection failed before its first query; closed');
      socket.destroy();
    });
  }

  /** The connection is the stream: queries read from it, answers written to it. */
  #lockstep(socket: Socket, log: Logger, since: number): void {
    this.#run(socket, (bytes) => void socket.write(bytes), log, since).then(
      (stats) => {
        log.debug({ ...stats }, 'extauth connection closed');
        socket.end();
      },
      (err: Error) => {
        log.debug({ err: err.message }, 'extauth connection closed on a write error');
        socket.destroy();
      },
    );
  }

  /**
   * The worker's own pipes (handoff.ts): queries from `input`, answers to `output`; `lifeline`
   * carries nothing more. Whichever ends first ends the others: the worker's stdin closing (the
   * worker stopped), the lifeline closing (the connector was killed: closing the pipes lets
   * ejabberd see its program end and start another) or serve stopping.
   */
  #onPipes(lifeline: Socket, input: Socket, output: Socket, log: Logger, since: number): void {
    log.info({}, "extauth handoff: serving the worker on its own pipes");
    const closeAll = (): void => {
      input.destroy();
      output.destroy();
      lifeline.destroy();
    };
    input.on('error', (err) => log.debug({ err: err.message }, 'extauth worker input error'));
    output.on('error', (err) => log.debug({ err: err.message }, 'extauth worker output error'));
    lifeline.on('data', () => {
      log.warn({}, 'extauth handoff: bytes from the connector after its handoff; closing');
      closeAll();
    });
    lifeline.once('close', closeAll);
    lifeline.write(HANDOFF_ACK);
    lifeline.resume();
    // The pipes may hold a query written while the connector was connecting (it offers them
    // before it reads a query): timed from the connection.
    this.#run(input, (bytes) => void output.write(bytes), log, since, this.#stopping.signal).then(
      (stats) => {
        log.debug({ ...stats }, 'extauth worker pipes closed');
        // Closed, never end()ed: a socketpair's shutdown(2) would be the worker's too (its
        // program could not write on it again); an answer still buffered goes out first.
        if (output.writableLength === 0) closeAll();
        else output.once('drain', closeAll);
      },
      (err: Error) => {
        log.debug({ err: err.message }, 'extauth worker pipes closed on a write error');
        closeAll();
      },
    );
  }

  #run(input: Socket, write: (bytes: Buffer) => void, log: Logger, inputSince: number, stop?: AbortSignal): ReturnType<typeof runLockstepBridge> {
    return runLockstepBridge({
      input,
      write,
      inputSince,
      protocol: this.#o.protocol,
      accounts: this.#o.accounts,
      limits: this.#o.limits,
      callerTimeoutMs: this.#o.callerTimeoutMs,
      logger: log,
      onEvent: (event) => this.#events?.inc({ event }),
      stop,
    });
  }
}
