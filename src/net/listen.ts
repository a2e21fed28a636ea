/**
 * Listening for a stream protocol face (the Dovecot auth protocol, the extauth protocol) on a
 * Unix socket or a TCP port, the same way for every face: a socket file left by an earlier run
 * is replaced (anything else at that path is refused), and the socket gets its file mode.
 */
import { chmodSync, rmSync, statSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';

export interface ListenOptions {
  /** Unix socket path; an existing socket file there is replaced. */
  readonly socket?: string | undefined;
  /** File mode of the Unix socket (who may connect). */
  readonly socketMode?: number | undefined;
  readonly port?: number | undefined;
  readonly host?: string | undefined;
}

/**
 * Listen with each server `make()` returns: one for the socket, one for the port, as asked.
 * Resolves with the bound TCP port (if any).
 */
async function listenOn(make: () => Server, options: ListenOptions): Promise<{ port?: number }> {
  const result: { port?: number } = {};
  if (options.socket !== undefined) {
    removeStaleSocket(options.socket);
    const server = make();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.socket, () => resolve());
    });
    chmodSync(options.socket, options.socketMode ?? 0o660);
  }
  if (options.port !== undefined) {
    const server = make();
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(options.port, options.host ?? '127.0.0.1', () => resolve());
    });
    const addr = server.address();
    if (addr !== null && typeof addr === 'object') result.port = addr.port;
  }
  return result;
}

/** Remove a socket file left by a previous run; refuse to remove anything else. */
function removeStaleSocket(path: string): void {
  try {
    if (statSync(path).isSocket()) rmSync(path);
    else throw new Error(`${path} exists and is not a socket`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}

/**
 * The listeners and open connections of one stream face: each accepted connection is handed to
 * `serve` (beyond `maxConnections` it is closed at once and `onRefused` told), and `close()`
 * stops accepting and ends every connection.
 */
export class StreamListeners {
  readonly #servers: Server[] = [];
  readonly #sockets = new Set<Socket>();
  readonly #serve: (socket: Socket) => void;
  readonly #maxConnections: number;
  readonly #onRefused: () => void;
  readonly #pauseOnConnect: boolean;

  /** `pauseOnConnect`: nothing is read from a connection until `serve` resumes it. */
  constructor(options: { serve: (socket: Socket) => void; maxConnections?: number | undefined; onRefused?: () => void; pauseOnConnect?: boolean }) {
    this.#serve = options.serve;
    this.#pauseOnConnect = options.pauseOnConnect ?? false;
    this.#maxConnections = options.maxConnections ?? 1000;
    this.#onRefused = options.onRefused ?? (() => {});
  }

  /** Connections open now. */
  get connections(): number {
    return this.#sockets.size;
  }

  /** Start listening; resolves with the bound TCP port (if any). */
  listen(options: ListenOptions): Promise<{ port?: number }> {
    return listenOn(() => this.#server(), options);
  }

  /** Stop accepting, close every connection. */
  async close(): Promise<void> {
    for (const s of this.#sockets) s.destroy();
    await Promise.all(this.#servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
  }

  #server(): Server {
    const server = createServer({ pauseOnConnect: this.#pauseOnConnect }, (socket) => {
      if (this.#sockets.size >= this.#maxConnections) {
        this.#onRefused();
        socket.destroy();
        return;
      }
      this.#sockets.add(socket);
      socket.once('close', () => this.#sockets.delete(socket));
      this.#serve(socket);
    });
    this.#servers.push(server);
    return server;
  }
}
