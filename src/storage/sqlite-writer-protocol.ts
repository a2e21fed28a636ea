/**
 * Messages between ThreadedSqliteStore (main thread) and its writer thread (sqlite-writer.ts).
 */
import type { StorageErrorCode } from './errors.js';
import type { OAuthStore } from './port.js';

/** The store calls that write: the writer thread performs them; every other call is a read. */
export const WRITE_METHODS = [
  'createGrant',
  'touchGrant',
  'revokeGrant',
  'revokeUserGrants',
  'revokeAccount',
  'saveToken',
  'revokeToken',
  'rotateRefreshToken',
  'saveTokens',
  'saveCode',
  'consumeCode',
  'redeemCode',
  'saveDevice',
  'decideDevice',
  'pollDevice',
  'consumeDevice',
  'endSessions',
  'hitFailure',
  'clearFailures',
  'sweep',
] as const satisfies readonly (keyof OAuthStore)[];

export type WriteMethod = (typeof WRITE_METHODS)[number];

export type WriterRequest = { type: 'call'; id: number; method: WriteMethod; args: unknown[] } | { type: 'close' };

/** An error as it crosses the thread boundary. */
export type WireError = { name: 'StorageError'; code: StorageErrorCode; message: string } | { name: 'TypeError' | 'Error'; message: string };

export type WriterReply =
  | { type: 'reply'; id: number; ok: true; value: unknown }
  | { type: 'reply'; id: number; ok: false; error: WireError }
  | { type: 'ready' }
  | { type: 'failed'; error: WireError }
  | { type: 'closed' };
