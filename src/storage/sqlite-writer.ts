/**
 * The SQLite writer thread (a worker_threads entry, started by ThreadedSqliteStore): a
 * SqliteStore of its own on the same file, which performs every write of the store. A commit
 * under `synchronous = FULL` waits for the disk; here it waits off the event loop that serves
 * HTTP, and the writes that arrive while one commit runs share the next one (the store's group
 * commit). Each message is one store call; the answer carries the result, or the error by
 * name, code and message, so that the main thread rebuilds the same typed error.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { StorageError } from './errors.js';
import { SqliteStore } from './sqlite.js';
import { WRITE_METHODS, type WireError, type WriteMethod, type WriterReply, type WriterRequest } from './sqlite-writer-protocol.js';

const port = parentPort!;
const { file } = workerData as { file: string };
const send = (reply: WriterReply): void => port.postMessage(reply);
const WRITES = new Set<string>(WRITE_METHODS);

function describe(err: unknown): WireError {
  if (err instanceof StorageError) return { name: 'StorageError', code: err.code, message: err.message };
  if (err instanceof TypeError) return { name: 'TypeError', message: err.message };
  return { name: 'Error', message: err instanceof Error ? err.message : String(err) };
}

function serve(store: SqliteStore): void {
  /** Calls not yet answered: closing waits for them, so every accepted write gets its answer. */
  const inFlight = new Set<Promise<void>>();
  port.on('message', (msg: WriterRequest) => {
    if (msg.type === 'close') {
      void Promise.allSettled([...inFlight])
        .then(() => store.close())
        .then(() => {
          send({ type: 'closed' });
          port.close();
        });
      return;
    }
    const { id, method, args } = msg;
    if (!WRITES.has(method)) {
      send({ type: 'reply', id, ok: false, error: { name: 'TypeError', message: `not a write of the store: ${String(method)}` } });
      return;
    }
    const call = (store[method as WriteMethod] as (...a: unknown[]) => Promise<unknown>).apply(store, args).then(
      (value) => send({ type: 'reply', id, ok: true, value }),
      (err: unknown) => send({ type: 'reply', id, ok: false, error: describe(err) }),
    );
    inFlight.add(call);
    void call.finally(() => inFlight.delete(call));
  });
  send({ type: 'ready' });
}

let store: SqliteStore | null = null;
try {
  store = SqliteStore.open(file);
} catch (err) {
  // Nothing keeps the thread alive after this: it ends.
  send({ type: 'failed', error: describe(err) });
  port.close();
}
if (store !== null) serve(store);
