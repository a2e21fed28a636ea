/**
 * The embedded SQLite store (DESIGN.md "Storage"): one file in the data directory, WAL mode.
 * Enforces:
 * - nothing committed is lost on a crash (synchronous = FULL, see SqliteStore.open);
 * - codes, refresh tokens and device codes are single-use even across processes sharing the
 *   file: a guarded UPDATE decides, inside an IMMEDIATE transaction with the reads that
 *   explain a loss ('reused', 'revoked', 'missing');
 * - revoking a grant revokes what it issued, in the same transaction;
 * - every driver failure surfaces as a StorageError with the driver error as `cause`.
 * This class runs every statement on the calling thread; `gatehouse serve` wraps it in
 * ThreadedSqliteStore (sqlite-threaded.ts), whose writer thread holds a SqliteStore of its own;
 * sqlite-open.ts picks one.
 */
import Database from 'better-sqlite3';
import { StorageError } from './errors.js';
import { applySqliteMigrations } from './migrations/apply-sqlite.js';
import { SQLITE_MIGRATIONS } from './migrations/sqlite.js';
import type { AccountRevocation, CodeRecord, Consumed, DeviceRecord, Grant, OAuthStore, TokenRecord } from './port.js';
import { fromSqliteError } from './sqlite-errors.js';
import { prepareStatements, type Statements } from './sqlite-statements.js';
import { splitCodeWithGrant, splitTokenWithGrant } from './with-grant.js';

/**
 * How long an expired token is kept before sweep deletes it: long enough that a refresh token
 * replayed just after expiry is still recognised as reused (and revokes its grant) rather than
 * unknown, and that introspection and revocation answer about it consistently.
 */
export const EXPIRED_TOKEN_RETENTION_MS = 24 * 60 * 60 * 1000;

/** How long a statement waits for another connection's write lock before failing as unavailable. */
const BUSY_TIMEOUT_MS = 5000;

/** An OAuthStore in one SQLite file. Open it with {@link openSqliteStore}. */
export class SqliteStore implements OAuthStore {
  readonly #db: Database.Database;
  readonly #s: Statements;
  /** Schema version of the open database. */
  readonly schemaVersion: number;

  // Write transactions are IMMEDIATE: they take the write lock at BEGIN, waiting up to
  // busy_timeout. A DEFERRED one that read first and then wrote could fail at once with
  // SQLITE_BUSY when another connection wrote in between, with no wait.
  readonly #consumeCode;
  readonly #rotateRefreshToken;
  readonly #redeemCode;
  readonly #saveTokens;
  readonly #groupCommit: (batch: { run: () => unknown }[], outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[]) => void;
  readonly #revokeGrant;
  readonly #revokeUserGrants;
  readonly #revokeAccount;
  readonly #pollDevice;
  readonly #sweep;

  private constructor(db: Database.Database, schemaVersion: number) {
    this.#db = db;
    this.schemaVersion = schemaVersion;
    const s = (this.#s = prepareStatements(db));

    this.#consumeCode = db.transaction((hash: string, at: number): Consumed<CodeRecord> => {
      const won = s.consumeCode.run(at, hash).changes === 1;
      const record = s.getCode.get(hash);
      if (record === undefined) return { status: 'missing' };
      if (won) return { status: 'ok', record };
      // The UPDATE refuses only a consumed code or a revoked one (the code or its grant).
      return { status: record.consumedAt !== null ? 'reused' : 'revoked', record };
    });

    this.#rotateRefreshToken = db.transaction(
      (oldHash: string, successor: TokenRecord | null, at: number, also: readonly TokenRecord[]): Consumed<TokenRecord> => {
        const won = s.useRefreshToken.run(at, oldHash).changes === 1;
        const record = s.getToken.get(oldHash);
        if (record === undefined || record.kind !== 'refresh') return { status: 'missing' };
        if (!won) return { status: record.usedAt !== null ? 'reused' : 'revoked', record };
        const fresh = successor === null ? also : [successor, ...also];
        // Thrown inside the transaction, so the old token is not marked used either.
        if (fresh.some((t) => t.grantId !== record.grantId)) throw new TypeError('the successor of a refresh token must belong to the same grant');
        for (const t of fresh) s.insertToken.run(t);
        return { status: 'ok', record };
      },
    );

    this.#redeemCode = db.transaction((hash: string, at: number, tokens: readonly TokenRecord[]): Consumed<CodeRecord> => {
      const record = s.consumeCodeReturning.get(at, hash);
      if (record === undefined) {
        // Lost: say why from the code as it is.
        const current = s.getCode.get(hash);
        if (current === undefined) return { status: 'missing' };
        return { status: current.consumedAt !== null ? 'reused' : 'revoked', record: current };
      }
      if (tokens.some((t) => t.grantId !== record.grantId)) throw new TypeError('tokens bought by a code must belong to its grant');
      for (const t of tokens) s.insertToken.run(t);
      s.touchGrant.run(at, record.grantId);
      return { status: 'ok', record };
    });

    this.#saveTokens = db.transaction((tokens: readonly TokenRecord[]): void => {
      for (const t of tokens) s.insertToken.run(t);
    });

    const group = db.transaction((batch: { run: () => unknown }[], outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[]) => {
      for (const item of batch) {
        try {
          outcomes.push({ ok: true, value: item.run() });
        } catch (error) {
          outcomes.push({ ok: false, error });
        }
      }
    });
    this.#groupCommit = (batch, outcomes) => group.immediate(batch, outcomes);

    const cascade = (id: string, at: number): number => {
      const revoked = s.revokeGrant.run(at, id).changes;
      // Run even when the grant was already revoked: it catches a token saved for the grant
      // by a request that raced with the first revocation.
      s.revokeGrantTokens.run(at, id);
      s.revokeGrantCodes.run(at, id);
      s.denyGrantDevices.run(id);
      return revoked;
    };
    this.#revokeGrant = db.transaction(cascade);
    this.#revokeUserGrants = db.transaction((host: string, user: string, at: number): number =>
      s.userGrantIds.all(host, user).reduce((n, id) => n + cascade(id, at), 0),
    );

    this.#revokeAccount = db.transaction((host: string, user: string, at: number, renew: boolean): AccountRevocation => {
      const generation = renew ? s.renewGeneration.get(host, user)! : (s.accountGeneration.get(host, user) ?? 0);
      const revoked = s.userGrantIds.all(host, user).reduce((n, id) => n + cascade(id, at), 0);
      s.endSessions.run(host, user, at);
      return { revoked, generation };
    });

    this.#pollDevice = db.transaction((deviceHash: string, at: number, interval: number): DeviceRecord | null => {
      const before = s.getDevice.get(deviceHash);
      if (before === undefined) return null;
      s.pollDevice.run(at, interval, deviceHash);
      return before;
    });

    this.#sweep = db.transaction((at: number): void => {
      s.sweepCodes.run(at);
      s.sweepDevices.run(at);
      s.sweepThrottle.run(at);
      s.sweepTokens.run(at - EXPIRED_TOKEN_RETENTION_MS);
      s.sweepGrants.run(at - EXPIRED_TOKEN_RETENTION_MS);
    });
  }

  /** Opens (creating if needed) and migrates the database in `file`. Use {@link openSqliteStore}. */
  static open(file: string): SqliteStore {
    let db: Database.Database;
    try {
      db = new Database(file);
    } catch (err) {
      // better-sqlite3 checks itself that the directory exists, and throws a plain TypeError.
      const reason = err instanceof Error ? `: ${err.message}` : '';
      throw new StorageError('ERR_STORAGE_UNAVAILABLE', `cannot open the database ${file}${reason}`, { cause: err });
    }
    try {
      // First, so that even switching to WAL waits for another process's lock.
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      // WAL: readers never block the writer and vice versa, and a commit is one append.
      db.pragma('journal_mode = WAL');
      // FULL: in WAL mode the default (NORMAL) may lose the last commits on a power cut or OS
      // crash. A lost `consumed_at` or `used_at` would let a code or refresh token be redeemed
      // a second time after the restart, so every commit is fsynced before it returns.
      db.pragma('synchronous = FULL');
      // Off by default in SQLite; the schema relies on it (tokens and codes need their grant).
      db.pragma('foreign_keys = ON');
      const { to } = applySqliteMigrations(db, SQLITE_MIGRATIONS);
      return new SqliteStore(db, to);
    } catch (err) {
      db.close();
      const wrapped = fromSqliteError(err);
      if (!(wrapped instanceof StorageError)) throw wrapped;
      // The same code, with the file named for the operator.
      throw new StorageError(wrapped.code, `cannot open the database ${file}: ${wrapped.message}`, { cause: wrapped.cause });
    }
  }

  /** Runs `fn` on the open database, turning driver errors into StorageErrors. */
  #run<T>(fn: () => T): T {
    if (!this.#db.open) throw new StorageError('ERR_STORAGE_CLOSED');
    try {
      return fn();
    } catch (err) {
      throw fromSqliteError(err);
    }
  }

  /** Writes waiting for the next group commit. */
  #batch: { run: () => unknown; resolve: (v: never) => void; reject: (e: unknown) => void }[] | null = null;

  /**
   * Group commit: writes on the token endpoint's hot path that arrive in the same turn of the
   * event loop share one transaction, hence one fsync under `synchronous = FULL`, instead of
   * one each. Each runs in its own savepoint (`fn` is itself a better-sqlite3 transaction, and
   * nested transactions are savepoints), so one write failing rolls back only itself. Every
   * caller is answered only after the commit: durability is unchanged.
   */
  #grouped<T>(fn: () => T): Promise<T> {
    if (!this.#db.open) return Promise.reject(new StorageError('ERR_STORAGE_CLOSED'));
    return new Promise<T>((resolve, reject) => {
      if (this.#batch === null) {
        this.#batch = [];
        setImmediate(() => this.#commitBatch());
      }
      this.#batch.push({ run: fn, resolve: resolve as (v: never) => void, reject });
    });
  }

  #commitBatch(): void {
    const batch = this.#batch ?? [];
    this.#batch = null;
    const outcomes: ({ ok: true; value: unknown } | { ok: false; error: unknown })[] = [];
    try {
      this.#groupCommit(batch, outcomes);
    } catch (err) {
      // The commit itself failed: nothing of the batch is stored.
      const e = this.#db.open ? fromSqliteError(err) : new StorageError('ERR_STORAGE_CLOSED');
      for (const item of batch) item.reject(e);
      return;
    }
    batch.forEach((item, i) => {
      const o = outcomes[i]!;
      if (o.ok) item.resolve(o.value as never);
      else item.reject(o.error instanceof TypeError ? o.error : fromSqliteError(o.error));
    });
  }

  // Grants

  async createGrant(grant: Grant): Promise<void> {
    this.#run(() => this.#s.insertGrant.run(grant));
  }

  async getGrant(id: string): Promise<Grant | null> {
    return this.#run(() => this.#s.getGrant.get(id) ?? null);
  }

  async listGrants(host: string, user: string): Promise<Grant[]> {
    return this.#run(() => this.#s.listGrants.all(host, user));
  }

  async touchGrant(id: string, at: number): Promise<void> {
    this.#run(() => this.#s.touchGrant.run(at, id));
  }

  async revokeGrant(id: string, at: number): Promise<void> {
    this.#run(() => this.#revokeGrant.immediate(id, at));
  }

  async revokeUserGrants(host: string, user: string, at: number): Promise<number> {
    return this.#run(() => this.#revokeUserGrants.immediate(host, user, at));
  }

  // Accounts

  async accountGeneration(host: string, user: string): Promise<number> {
    return this.#run(() => this.#s.accountGeneration.get(host, user) ?? 0);
  }

  async revokeAccount(host: string, user: string, at: number, renew: boolean): Promise<AccountRevocation> {
    return this.#run(() => this.#revokeAccount.immediate(host, user, at, renew));
  }

  // Tokens

  async saveToken(token: TokenRecord): Promise<void> {
    this.#run(() => this.#s.insertToken.run(token));
  }

  async findToken(hash: string): Promise<{ token: TokenRecord; grant: Grant } | null> {
    // One statement (a JOIN): the token and its grant from one snapshot, no transaction.
    return this.#run(() => {
      const row = this.#s.getTokenWithGrant.get(hash);
      return row === undefined ? null : splitTokenWithGrant(row);
    });
  }

  async revokeToken(hash: string, at: number): Promise<void> {
    this.#run(() => this.#s.revokeToken.run(at, hash));
  }

  async rotateRefreshToken(oldHash: string, successor: TokenRecord | null, at: number, also: readonly TokenRecord[] = []): Promise<Consumed<TokenRecord>> {
    if (successor !== null && successor.kind !== 'refresh') throw new TypeError('the successor of a refresh token must be a refresh token');
    return this.#grouped(() => this.#rotateRefreshToken(oldHash, successor, at, also));
  }

  async saveTokens(tokens: readonly TokenRecord[]): Promise<void> {
    await this.#grouped(() => this.#saveTokens(tokens));
  }

  // Authorization codes

  async saveCode(code: CodeRecord): Promise<void> {
    this.#run(() => this.#s.insertCode.run(code));
  }

  async consumeCode(hash: string, at: number): Promise<Consumed<CodeRecord>> {
    return this.#run(() => this.#consumeCode.immediate(hash, at));
  }

  async findCode(hash: string): Promise<CodeRecord | null> {
    return this.#run(() => this.#s.getCode.get(hash) ?? null);
  }

  async findCodeWithGrant(hash: string): Promise<{ code: CodeRecord; grant: Grant } | null> {
    return this.#run(() => {
      const row = this.#s.getCodeWithGrant.get(hash);
      return row === undefined ? null : splitCodeWithGrant(row);
    });
  }

  async redeemCode(hash: string, at: number, tokens: readonly TokenRecord[]): Promise<Consumed<CodeRecord>> {
    return this.#grouped(() => this.#redeemCode(hash, at, tokens));
  }

  // Device codes

  async saveDevice(device: DeviceRecord): Promise<void> {
    this.#run(() => this.#s.insertDevice.run(device));
  }

  async findDeviceByUserCode(userCode: string): Promise<DeviceRecord | null> {
    return this.#run(() => this.#s.getDeviceByUserCode.get(userCode) ?? null);
  }

  async findDevice(deviceHash: string): Promise<DeviceRecord | null> {
    return this.#run(() => this.#s.getDevice.get(deviceHash) ?? null);
  }

  async decideDevice(deviceHash: string, decision: { approved: true; grantId: string } | { approved: false }): Promise<boolean> {
    return this.#run(() =>
      decision.approved
        ? this.#s.approveDevice.run(decision.grantId, deviceHash).changes === 1
        : this.#s.denyDevice.run(deviceHash).changes === 1,
    );
  }

  async pollDevice(deviceHash: string, at: number, interval: number): Promise<DeviceRecord | null> {
    return this.#run(() => this.#pollDevice.immediate(deviceHash, at, interval));
  }

  // One guarded UPDATE is atomic on its own: no transaction needed to make it single-use.
  async consumeDevice(deviceHash: string): Promise<boolean> {
    return this.#run(() => this.#s.consumeDevice.run(deviceHash).changes === 1);
  }

  // Throttling

  async hitFailure(key: string, at: number, windowMs: number): Promise<number> {
    if (!Number.isSafeInteger(windowMs) || windowMs <= 0) throw new TypeError(`windowMs must be a positive integer, got ${windowMs}`);
    return this.#run(() => this.#s.hitFailure.get({ key, at, windowMs })!);
  }

  async endSessions(host: string, user: string, at: number): Promise<void> {
    this.#run(() => this.#s.endSessions.run(host, user, at));
  }

  async sessionsNotBefore(host: string, user: string): Promise<number> {
    return this.#run(() => this.#s.sessionsNotBefore.get(host, user) ?? 0);
  }

  async failuresOf(key: string, at: number): Promise<number> {
    return this.#run(() => this.#s.failuresOf.get(key, at) ?? 0);
  }

  async clearFailures(key: string): Promise<void> {
    this.#run(() => this.#s.clearFailures.run(key));
  }

  async sweep(at: number): Promise<void> {
    this.#run(() => this.#sweep.immediate(at));
  }

  /** Closes the database; later calls reject with ERR_STORAGE_CLOSED. Closing twice is harmless. */
  async close(): Promise<void> {
    if (!this.#db.open) return;
    // Writes already accepted are committed, not dropped.
    if (this.#batch !== null) this.#commitBatch();
    try {
      // Refreshes the query planner's statistics, as SQLite advises before closing.
      this.#db.pragma('optimize');
    } catch {
      // Advisory only: a failure here must not keep the file open.
    }
    this.#db.close();
  }
}
