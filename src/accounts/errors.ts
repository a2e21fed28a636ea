/** Errors of the accounts layer, beside the engine's ExtauthError. */
export const AccountsErrorCodes = {
  ERR_AUTH_THROTTLED: 'too many failed attempts; try again later',
  ERR_AUTH_NOT_CONFIGURED: 'no auth script is configured for this host',
} as const;

export type AccountsErrorCode = keyof typeof AccountsErrorCodes;

export class AccountsError extends Error {
  override readonly name = 'AccountsError';
  readonly code: AccountsErrorCode;
  /** For ERR_AUTH_THROTTLED: milliseconds until a new attempt is allowed. */
  readonly retryAfterMs: number;

  constructor(code: AccountsErrorCode, retryAfterMs = 0) {
    super(AccountsErrorCodes[code]);
    this.code = code;
    this.retryAfterMs = retryAfterMs;
  }
}
