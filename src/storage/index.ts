/**
 * The storage layer: the OAuthStore port, its SQLite and PostgreSQL implementations, and
 * `openStore` (open.ts), which picks the implementation from the configuration and loads
 * only that one. Importing this barrel loads every implementation.
 */
export type { CodeRecord, Consumed, DeviceRecord, Grant, OAuthStore, TokenKind, TokenRecord } from './port.js';
export { StorageError, StorageErrorCodes, isStorageError, type StorageErrorCode } from './errors.js';
export { EXPIRED_TOKEN_RETENTION_MS, SqliteStore } from './sqlite.js';
export { openSqliteStore, type SqliteStoreOptions } from './sqlite-open.js';
export { ThreadedSqliteStore } from './sqlite-threaded.js';
export { PostgresStore, openPostgresStore, type PostgresStoreOptions } from './postgres.js';
export { openStore, SQLITE_FILE_NAME, type OpenStoreOptions } from './open.js';
