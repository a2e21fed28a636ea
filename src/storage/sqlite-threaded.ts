/**
 * The SQLite store of `gatehouse serve`: reads on the main thread, writes on a writer thread.
 *
 * better-sqlite3 is synchronous, and with `synchronous = FULL` every commit waits for the
 * disk (fsync). On the main thread that wait stops every other request: a code exchange
 * spent about half of its time there. Here the writes (WRITE_METHODS) go to a worker thread
 * holding its own connection to the same file (sqlite-writer.ts), and the reads stay on the
 * main thread's connection. WAL lets both connections work at once: readers never wait for
 * the writer, and a read that starts after a write was answered sees it, because the writer
 * answers only after its commit. Durability is unchanged: a write is answered once it is on
 * disk. The writer's group commit now gathers whatever arrives while the disk is busy.
 *
 * The writer thread is kept alive only while a write waits for its answer, so an idle store
 * never holds a process open. Should the thread stop unexpectedly, the writes waiting for it
 * fail with ERR_STORAGE_UNAVAILABLE and the next write starts a new thread. As when a database
 * connection drops, such a write may have been committed just before: its outcome is unknown,
 * but a write is never reported done unless it was.
 */
import { Worker } from 'node:worker_threads';
import { StorageError } from './errors.js';
import type { AccountRevocation, CodeRecord, Consumed, DeviceRecord, Grant, OAuthStore, TokenRecord } from './port.js';
import { SqliteStore } from './sqlite.js';
import type { WireError, WriteMethod, WriterReply } from './sqlite-writer-protocol.js';

const WRITER_ENTRY = new URL('./sqlite-writer.js', import.meta.url);

function rebuild(e: WireError): Error {
  if (e.name === 'StorageError') return new StorageError(e.code, e.message);
  if (e.name === 'TypeError') return new TypeError(e.message);
  return new StorageError('ERR_STORAGE_INTERNAL', e.message);
}

interface Waiting {
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
}

export class ThreadedSqliteStore implements OAuthStore {
  readonly #file: string;
  readonly #reader: SqliteStore;
  /** The running writer, or the one starting; null before the first write and after a crash. */
  #writer: Promise<Worker> | null = null;
  /** The writer once it is ready, for posting without waiting a turn. */
  #running: Worker | null = null;
  readonly #waiting = new Map<number, Waiting>();
  #nextId = 0;
  #closed = false;

  private constructor(file: string, reader: SqliteStore) {
    this.#file = file;
    this.#reader = reader;
  }

  /**
   * Opens (creating and migrating) the database in `file` on the main thread, then starts
   * the writer thread on it. Use {@link openSqliteStore}.
   */
  static async open(file: string): Promise<ThreadedSqliteStore> {
    const reader = SqliteStore.open(file);
    const store = new ThreadedSqliteStore(file, reader);
    try {
      await store.#startedWriter();
    } catch (err) {
      await reader.close();
      throw err;
    }
    return store;
  }

  /** The running writer thread of `store`, or null: for diagnostics and tests. */
  static writerThread(store: ThreadedSqliteStore): Worker | null {
    return store.#running;
  }

  /** The schema version of the database (migrations.ts). */
  get schemaVersion(): number {
    return this.#reader.schemaVersion;
  }

  #startedWriter(): Promise<Worker> {
    this.#writer ??= this.#start().catch((err: unknown) => {
      this.#writer = null;
      throw err;
    });
    return this.#writer;
  }

  #start(): Promise<Worker> {
    const worker = new Worker(WRITER_ENTRY, { workerData: { file: this.#file } });
    worker.unref();
    return new Promise<Worker>((resolve, reject) => {
      let ready = false;
      worker.on('message', (m: WriterReply) => {
        if (m.type === 'ready') {
          ready = true;
          this.#running = worker;
          resolve(worker);
        } else if (m.type === 'failed') {
          reject(rebuild(m.error));
        } else if (m.type === 'reply') {
          const w = this.#waiting.get(m.id);
          if (w === undefined) return;
          this.#waiting.delete(m.id);
          // Idle: the thread no longer holds the process open (unless close() waits for it).
          if (this.#waiting.size === 0 && !this.#closed) worker.unref();
          if (m.ok) w.resolve(m.value);
          else w.reject(rebuild(m.error));
        }
      });
      worker.on('error', (err) => {
        if (!ready) reject(new StorageError('ERR_STORAGE_UNAVAILABLE', `the SQLite writer thread failed to start: ${err.message}`, { cause: err }));
      });
      worker.once('exit', () => {
        if (!ready) reject(new StorageError('ERR_STORAGE_UNAVAILABLE', 'the SQLite writer thread stopped before it was ready'));
        // A crash fails what waits for the thread; the next write starts another.
        if (this.#running === worker) {
          this.#running = null;
          this.#writer = null;
        }
        const waiting = [...this.#waiting.values()];
        this.#waiting.clear();
        const err = this.#closed ? new StorageError('ERR_STORAGE_CLOSED') : new StorageError('ERR_STORAGE_UNAVAILABLE', 'the SQLite writer thread stopped');
        for (const w of waiting) w.reject(err);
      });
    });
  }

  /**
   * One store call on the writer thread. A call made before close() is accepted: it is posted
   * at once when the thread runs (or, while it starts, before close's own message), and
   * the thread answers every call it received before it closes.
   */
  #write<T>(method: WriteMethod, ...args: unknown[]): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageError('ERR_STORAGE_CLOSED'));
    if (this.#running !== null) return this.#post<T>(this.#running, method, args);
    return this.#startedWriter().then((worker) => this.#post<T>(worker, method, args));
  }

  #post<T>(worker: Worker, method: WriteMethod, args: unknown[]): Promise<T> {
    const id = this.#nextId++;
    return new Promise<T>((resolve, reject) => {
      try {
        // Records are plain data; anything else cannot cross to the thread.
        worker.postMessage({ type: 'call', id, method, args });
      } catch (err) {
        reject(new TypeError(`${method}: the arguments are not plain records`, { cause: err }));
        return;
      }
      // Alive while an answer is awaited, so a one-shot command cannot exit before it.
      if (this.#waiting.size === 0) worker.ref();
      this.#waiting.set(id, { resolve: resolve as (v: unknown) => void, reject });
    });
  }

  #read<T>(fn: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new StorageError('ERR_STORAGE_CLOSED'));
    return fn();
  }

  // Grants

  createGrant(grant: Grant): Promise<void> {
    return this.#write('createGrant', grant);
  }

  getGrant(id: string): Promise<Grant | null> {
    return this.#read(() => this.#reader.getGrant(id));
  }

  listGrants(host: string, user: string): Promise<Grant[]> {
    return this.#read(() => this.#reader.listGrants(host, user));
  }

  touchGrant(id: string, at: number): Promise<void> {
    return this.#write('touchGrant', id, at);
  }

  revokeGrant(id: string, at: number): Promise<void> {
    return this.#write('revokeGrant', id, at);
  }

  revokeUserGrants(host: string, user: string, at: number): Promise<number> {
    return this.#write('revokeUserGrants', host, user, at);
  }

  // Accounts

  accountGeneration(host: string, user: string): Promise<number> {
    return this.#read(() => this.#reader.accountGeneration(host, user));
  }

  revokeAccount(host: string, user: string, at: number, renew: boolean): Promise<AccountRevocation> {
    return this.#write('revokeAccount', host, user, at, renew);
  }

  // Tokens

  saveToken(token: TokenRecord): Promise<void> {
    return this.#write('saveToken', token);
  }

  findToken(hash: string): Promise<{ token: TokenRecord; grant: Grant } | null> {
    return this.#read(() => this.#reader.findToken(hash));
  }

  revokeToken(hash: string, at: number): Promise<void> {
    return this.#write('revokeToken', hash, at);
  }

  rotateRefreshToken(oldHash: string, successor: TokenRecord | null, at: number, also: readonly TokenRecord[] = []): Promise<Consumed<TokenRecord>> {
    return this.#write('rotateRefreshToken', oldHash, successor, at, also);
  }

  saveTokens(tokens: readonly TokenRecord[]): Promise<void> {
    return this.#write('saveTokens', tokens);
  }

  // Authorization codes

  saveCode(code: CodeRecord): Promise<void> {
    return this.#write('saveCode', code);
  }

  consumeCode(hash: string, at: number): Promise<Consumed<CodeRecord>> {
    return this.#write('consumeCode', hash, at);
  }

  findCode(hash: string): Promise<CodeRecord | null> {
    return this.#read(() => this.#reader.findCode(hash));
  }

  findCodeWithGrant(hash: string): Promise<{ code: CodeRecord; grant: Grant } | null> {
    return this.#read(() => this.#reader.findCodeWithGrant(hash));
  }

  redeemCode(hash: string, at: number, tokens: readonly TokenRecord[]): Promise<Consumed<CodeRecord>> {
    return this.#write('redeemCode', hash, at, tokens);
  }

  // Device codes

  saveDevice(device: DeviceRecord): Promise<void> {
    return this.#write('saveDevice', device);
  }

  findDeviceByUserCode(userCode: string): Promise<DeviceRecord | null> {
    return this.#read(() => this.#reader.findDeviceByUserCode(userCode));
  }

  findDevice(deviceHash: string): Promise<DeviceRecord | null> {
    return this.#read(() => this.#reader.findDevice(deviceHash));
  }

  decideDevice(deviceHash: string, decision: { approved: true; grantId: string } | { approved: false }): Promise<boolean> {
    return this.#write('decideDevice', deviceHash, decision);
  }

  pollDevice(deviceHash: string, at: number, interval: number): Promise<DeviceRecord | null> {
    return this.#write('pollDevice', deviceHash, at, interval);
  }

  consumeDevice(deviceHash: string): Promise<boolean> {
    return this.#write('consumeDevice', deviceHash);
  }

  // Sessions and throttling

  endSessions(host: string, user: string, at: number): Promise<void> {
    return this.#write('endSessions', host, user, at);
  }

  sessionsNotBefore(host: string, user: string): Promise<number> {
    return this.#read(() => this.#reader.sessionsNotBefore(host, user));
  }

  hitFailure(key: string, at: number, windowMs: number): Promise<number> {
    return this.#write('hitFailure', key, at, windowMs);
  }

  failuresOf(key: string, at: number): Promise<number> {
    return this.#read(() => this.#reader.failuresOf(key, at));
  }

  clearFailures(key: string): Promise<void> {
    return this.#write('clearFailures', key);
  }

  sweep(at: number): Promise<void> {
    return this.#write('sweep', at);
  }

  /**
   * Closes the store: writes already accepted are answered and committed first, then the
   * writer thread ends and the main connection closes. Later calls reject with
   * ERR_STORAGE_CLOSED. Closing twice is harmless.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const worker = await this.#writer?.catch(() => null);
    if (worker !== undefined && worker !== null) {
      const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
      worker.ref();
      worker.postMessage({ type: 'close' });
      await exited;
    }
    await this.#reader.close();
  }
}
