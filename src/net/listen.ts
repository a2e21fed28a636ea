/**
 * Listening for a stream protocol face (the Dovecot auth protocol, the extauth protocol) on a
 * Unix socket or a TCP port, the same way for every face: a socket file left by an earlier run
 * is replaced (anything else at that path is refused), and the socket gets its file mode.
 */
import { chmodSync, rmSync, statSync } from 'node:fs';
import type { Server } from 'node:net';

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
export async function listenOn(make: () => Server, options: ListenOptions): Promise<{ port?: number }> {
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
export function removeStaleSocket(path: string): void {
  try {
    if (statSync(path).isSocket()) rmSync(path);
    else throw new Error(`${path} exists and is not a socket`);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
