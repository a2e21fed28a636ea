/**
 * The storage port of the OAuth server (DESIGN.md "Storage"): grants, tokens stored only as
 * hashes, single-use authorization codes, device codes, and login-throttling counters. Two
 * implementations pass one contract suite: SQLite (embedded default) and PostgreSQL (fleet).
 * Client registrations need no storage at all.
 *
 * Every method is async so that a networked store fits the same shape. Times are
 * milliseconds since the epoch. Hashes are lowercase hex SHA-256 of the secret value; the
 * secret itself never reaches storage.
 */

/** A user's consent to a client: the parent of its codes and tokens. */
export interface Grant {
  readonly id: string;
  readonly host: string;
  /** The XMPP localpart. */
  readonly user: string;
  readonly clientId: string;
  /** SHA-256 of the client_id, for lookups (a client_id can be ~2 KB). */
  readonly clientHash: string;
  readonly clientName: string;
  readonly clientUri: string;
  /** Space-separated scopes granted. */
  readonly scope: string;
  readonly createdAt: number;
  readonly lastUsedAt: number;
  /** When the user authenticated for this grant (OIDC auth_time), ms. */
  readonly authTime: number;
  readonly revokedAt: number | null;
  /** The generation of the user's account the grant was made for (accountGeneration). */
  readonly generation: number;
}

/** What revokeAccount did. */
export interface AccountRevocation {
  /** Grants that were live and are now revoked. */
  readonly revoked: number;
  /** The account's generation now. */
  readonly generation: number;
}

export type TokenKind = 'access' | 'refresh';

export interface TokenRecord {
  readonly hash: string;
  readonly kind: TokenKind;
  readonly grantId: string;
  readonly scope: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly revokedAt: number | null;
  /** For a refresh token: set when it was exchanged (rotated) for a new one. */
  readonly usedAt: number | null;
}

/** An authorization code (RFC 6749 §4.1.2), bound to client, redirect URI and PKCE challenge. */
export interface CodeRecord {
  readonly hash: string;
  readonly grantId: string;
  readonly clientHash: string;
  /** The redirect URI of the request; '' when the request named none (RFC 6749 §4.1.3). */
  readonly redirectUri: string;
  /** PKCE S256 challenge (RFC 7636 §4.2). */
  readonly codeChallenge: string;
  readonly scope: string;
  /** OIDC nonce to put in the id_token, if any. */
  readonly nonce: string | null;
  readonly createdAt: number;
  readonly expiresAt: number;
  readonly consumedAt: number | null;
}

/** A device authorization (RFC 8628): the device polls with device_code, the user types user_code. */
export interface DeviceRecord {
  readonly deviceHash: string;
  /** Normalized user code (upper case, no separator). */
  readonly userCode: string;
  readonly host: string;
  readonly clientHash: string;
  readonly clientId: string;
  readonly scope: string;
  readonly createdAt: number;
  readonly expiresAt: number;
  /** Minimum seconds between polls; raised by slow_down. */
  readonly interval: number;
  readonly lastPollAt: number | null;
  readonly status: 'pending' | 'approved' | 'denied' | 'consumed';
  /** Set when approved. */
  readonly grantId: string | null;
}

/**
 * Result of consuming a single-use thing:
 * - 'ok': this call consumed it (exactly one caller ever gets this);
 * - 'reused': it had been consumed before: a replay, whatever happened to its grant since;
 * - 'revoked': never consumed, but it or its grant was revoked: refuse it, nothing to undo;
 * - 'missing': unknown (or already swept).
 * Expiry is not judged here: the record carries `expiresAt` for the caller to check.
 */
export type Consumed<T> =
  | { readonly status: 'ok'; readonly record: T }
  | { readonly status: 'reused'; readonly record: T }
  | { readonly status: 'revoked'; readonly record: T }
  | { readonly status: 'missing' };

export interface OAuthStore {
  // Grants
  /**
   * Store a grant. One made for another generation than the account's current one is stored
   * already revoked (revokedAt = createdAt): its account ended while it was being made (the
   * user signed in, then the name was removed or registered again).
   */
  createGrant(grant: Grant): Promise<void>;
  getGrant(id: string): Promise<Grant | null>;
  /** Grants of a user that are not revoked, newest use first. */
  listGrants(host: string, user: string): Promise<Grant[]>;
  touchGrant(id: string, at: number): Promise<void>;
  /**
   * Revoke a grant and, with it, every token and unused code it issued (the cascade); a device
   * approved for it but not yet redeemed turns 'denied'. Rows stay until sweep, so a replay
   * is still recognised.
   */
  revokeGrant(id: string, at: number): Promise<void>;
  /** Revoke every grant of a user (password changed), with the cascade; returns how many were live. */
  revokeUserGrants(host: string, user: string, at: number): Promise<number>;

  // Accounts (DESIGN.md: "Grants follow the account")
  /**
   * The generation of the account `user` at `host`: 0 until the name is first removed or
   * registered (revokeAccount with `renew`), one more each time. Every instance sees the same.
   */
  accountGeneration(host: string, user: string): Promise<number>;
  /**
   * The account changed (a new password) or its name changed hands (removed, or registered:
   * `renew`). In one transaction: with `renew` the generation moves on by one; every grant of
   * the user is revoked with its cascade (revokeUserGrants); their sessions issued before `at`
   * end (endSessions). A createGrant racing with it either is revoked by it or stores its
   * grant revoked.
   */
  revokeAccount(host: string, user: string, at: number, renew: boolean): Promise<AccountRevocation>;

  // Tokens
  saveToken(token: TokenRecord): Promise<void>;
  /** The token and its grant, whatever their state: callers check expiry and revocation. */
  findToken(hash: string): Promise<{ token: TokenRecord; grant: Grant } | null>;
  revokeToken(hash: string, at: number): Promise<void>;
  /**
   * Atomically mark a refresh token used and store its successor. Exactly one of two racing
   * callers gets 'ok'; the other (and any later reuse) gets 'reused' (RFC 9700 §4.14.2).
   * 'revoked' when the unused token or its grant was revoked; 'missing' for an unknown hash or
   * an access token. The successor (null: none, the old token is only spent) and the tokens
   * in `also` (the new access token) are stored in the same commit, only with 'ok', and must
   * belong to the same grant (else TypeError).
   */
  rotateRefreshToken(oldHash: string, successor: TokenRecord | null, at: number, also?: readonly TokenRecord[]): Promise<Consumed<TokenRecord>>;
  /** Save several tokens of one grant in one transaction (one commit). */
  saveTokens(tokens: readonly TokenRecord[]): Promise<void>;

  // Authorization codes
  saveCode(code: CodeRecord): Promise<void>;
  /**
   * Atomically consume a code: 'ok' once, then 'reused' (RFC 6749 §4.1.2: single use).
   * 'revoked' when its grant was revoked before it was used.
   */
  consumeCode(hash: string, at: number): Promise<Consumed<CodeRecord>>;
  /** Read a code without consuming it, to check its bindings before redeeming it. */
  findCode(hash: string): Promise<CodeRecord | null>;
  /** The code and its grant, read together (one statement, one snapshot); null when unknown. */
  findCodeWithGrant(hash: string): Promise<{ code: CodeRecord; grant: Grant } | null>;
  /**
   * Consume a code and, only if this call consumed it, save the tokens it buys and mark its
   * grant used: one transaction, one commit (the token endpoint's hot path). Statuses as
   * consumeCode.
   */
  redeemCode(hash: string, at: number, tokens: readonly TokenRecord[]): Promise<Consumed<CodeRecord>>;

  // Device codes
  saveDevice(device: DeviceRecord): Promise<void>;
  findDeviceByUserCode(userCode: string): Promise<DeviceRecord | null>;
  findDevice(deviceHash: string): Promise<DeviceRecord | null>;
  /** pending -> approved (with grant) or denied; false when it was not pending. */
  decideDevice(deviceHash: string, decision: { approved: true; grantId: string } | { approved: false }): Promise<boolean>;
  /** Record a poll; returns the record as it was before this poll. */
  pollDevice(deviceHash: string, at: number, interval: number): Promise<DeviceRecord | null>;
  /** approved -> consumed, once; false otherwise (also when the grant was revoked meanwhile). */
  consumeDevice(deviceHash: string): Promise<boolean>;

  // Browser sessions (signed cookies): the cut-off that ends them all for one user
  /** Sessions of `user` at `host` issued before `at` (ms) are no longer valid; never moves back. */
  endSessions(host: string, user: string, at: number): Promise<void>;
  /** The cut-off for `user` at `host` (ms), or 0 when their sessions were never ended. */
  sessionsNotBefore(host: string, user: string): Promise<number>;

  // Throttling shared by instances
  /** Count one failure of `key` in a window of `windowMs`; returns the count in the window. */
  hitFailure(key: string, at: number, windowMs: number): Promise<number>;
  failuresOf(key: string, at: number): Promise<number>;
  clearFailures(key: string): Promise<void>;

  /**
   * Drop expired codes, devices and throttle windows, tokens expired for more than a day, and
   * then the grants left with nothing (no token, code or device) and unused for more than a
   * day: nothing can use such a grant again (a new authorization makes a new grant), and
   * without this the grants table would grow with every authorization for ever.
   */
  sweep(at: number): Promise<void>;
  close(): Promise<void>;
}
