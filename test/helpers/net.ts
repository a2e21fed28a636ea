/** Loopback ports for the servers the tests start. */
import { createServer } from 'node:net';

/**
 * A free TCP port on 127.0.0.1: bound, then released. Another process may take it in between
 * (a small race): servers started on it are retried by their harness where that matters.
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
