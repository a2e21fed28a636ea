/**
 * Record builders for the storage tests. Every id, hash and user code is random, so tests can
 * share one database (a persistent file, later a PostgreSQL schema) without seeing each other.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { CodeRecord, DeviceRecord, Grant, TokenRecord } from '../../src/storage/port.js';

/** A fixed "now" for tests: times are passed explicitly, nothing sleeps. */
export const T0 = 1_800_000_000_000;
export const MINUTE = 60_000;
export const DAY = 24 * 60 * MINUTE;

/** A fresh random hash, shaped like the SHA-256 hex the OAuth layer stores. */
export function newHash(): string {
  return createHash('sha256').update(randomBytes(32)).digest('hex');
}

/** A fresh user name, so a test's listGrants sees only its own grants. */
export function newUser(): string {
  return `user-${randomUUID()}`;
}

export function grantRecord(overrides: Partial<Grant> = {}): Grant {
  return {
    id: randomUUID(),
    host: 'example.com',
    user: newUser(),
    clientId: `client-${randomUUID()}`,
    clientHash: newHash(),
    clientName: 'Test Client',
    clientUri: 'https://client.example',
    scope: 'xmpp offline_access',
    createdAt: T0,
    lastUsedAt: T0,
    authTime: T0,
    revokedAt: null,
    generation: 0,
    ...overrides,
  };
}

export function tokenRecord(grantId: string, overrides: Partial<TokenRecord> = {}): TokenRecord {
  return {
    hash: newHash(),
    kind: 'refresh',
    grantId,
    scope: 'xmpp offline_access',
    createdAt: T0,
    expiresAt: T0 + 30 * DAY,
    revokedAt: null,
    usedAt: null,
    ...overrides,
  };
}

export function codeRecord(grant: Grant, overrides: Partial<CodeRecord> = {}): CodeRecord {
  return {
    hash: newHash(),
    grantId: grant.id,
    clientHash: grant.clientHash,
    redirectUri: 'https://client.example/callback',
    codeChallenge: 'E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM',
    scope: grant.scope,
    nonce: null,
    createdAt: T0,
    expiresAt: T0 + MINUTE,
    consumedAt: null,
    ...overrides,
  };
}

export function deviceRecord(overrides: Partial<DeviceRecord> = {}): DeviceRecord {
  return {
    deviceHash: newHash(),
    // Random and upper case, like a normalized user code (RFC 8628 §6.1), but long enough
    // never to collide between tests.
    userCode: randomBytes(10).toString('hex').toUpperCase(),
    host: 'example.com',
    clientHash: newHash(),
    clientId: `client-${randomUUID()}`,
    scope: 'xmpp',
    createdAt: T0,
    expiresAt: T0 + 10 * MINUTE,
    interval: 5,
    lastPollAt: null,
    status: 'pending',
    grantId: null,
    ...overrides,
  };
}
