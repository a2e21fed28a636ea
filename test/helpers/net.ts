/** Loopback ports for the servers the tests start. */
import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1: bound, then released. Another process may take it before the
 * server that is given it binds it (a test file beside this one listening on port 0 is handed
 * ports at random): start servers through `onFreePort`, which tries again with another port.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => (port > 0 ? resolve(port) : reject(new Error('no free port'))));
    });
  });
}

/** Whether an error says that the port was taken (Node's EADDRINUSE, or a server's own words). */
export function portTaken(err: unknown): boolean {
  if (typeof err === 'object' && err !== null && (err as { code?: unknown }).code === 'EADDRINUSE') return true;
  return err instanceof Error && /EADDRINUSE|address already in use|could not bind to address/i.test(err.message);
}

/**
 * Start something that must know its port before it listens (an issuer URL in its
 * configuration, a redirect URI registered beforehand) on a free port, and again on another
 * one if that port was taken in between. `start` must release what it started when it fails.
 */
export async function onFreePort<T>(start: (port: number) => Promise<T>, attempts = 5): Promise<T> {
  for (let i = 1; ; i++) {
    const port = await freePort();
    try {
      return await start(port);
    } catch (err) {
      if (i >= attempts || !portTaken(err)) throw err;
    }
  }
}
