/**
 * The extauth protocol served by `gatehouse serve` on a Unix socket (or loopback TCP): each
 * connection is one worker of the server (an ejabberd extauth worker, through a program such as
 * `socat STDIO UNIX-CONNECT:/run/gatehouse/extauth.sock`), answered in lockstep (lockstep.ts)
 * from the service's accounts: the same pools, cache, throttles, token check, logs and metrics
 * as the other faces, instead of one Node process and one pool per worker.
 */
import type { Socket } from 'node:net';
import { Counter, Gauge } from 'prom-client';
import type { Accounts } from '../accounts/accounts.js';
import type { QueryLimits } from '../extauth/query.js';
import type { ProtocolName } from '../extauth/wire/protocol.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { Registry } from '../metrics/registry.js';
import { StreamListeners, type ListenOptions } from '../net/listen.js';
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
}

export class ExtauthSocketServer {
  readonly #o: ExtauthSocketOptions;
  readonly #log: Logger;
  readonly #listeners: StreamListeners;
  readonly #open: Gauge | null;
  readonly #events: Counter<'event'> | null;
  #id = 0;

  constructor(options: ExtauthSocketOptions) {
    this.#o = options;
    this.#log = options.logger ?? silentLogger;
    const max = options.maxConnections ?? 1000;
    this.#listeners = new StreamListeners({
      maxConnections: max,
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
  }

  /** Start listening; resolves with the bound TCP port (if any). */
  listen(options: ListenOptions): Promise<{ port?: number }> {
    return this.#listeners.listen(options);
  }

  /** Stop accepting and close every connection: the workers' programs see EOF and answer no. */
  close(): Promise<void> {
    return this.#listeners.close();
  }

  #serve(socket: Socket): void {
    const log = this.#log.child({ conn: ++this.#id });
    this.#open?.inc();
    socket.setNoDelay(true);
    // A worker that went away: its answer has nowhere to go, and nothing else is lost.
    socket.on('error', (err) => log.debug({ err: err.message }, 'extauth connection error'));
    socket.once('close', () => this.#open?.dec());
    runLockstepBridge({
      input: socket,
      write: (bytes) => {
        socket.write(bytes);
      },
      protocol: this.#o.protocol,
      accounts: this.#o.accounts,
      limits: this.#o.limits,
      callerTimeoutMs: this.#o.callerTimeoutMs,
      logger: log,
      onEvent: (event) => this.#events?.inc({ event }),
    }).then(
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
}
