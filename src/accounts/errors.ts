/** Errors of the accounts layer, beside the engine's ExtauthError. */
export const AccountsErrorCodes = {
  ERR_AUTH_THROTTLED: 'too many failed attempts; try again later',
  ERR_AUTH_NOT_CONFIGURED: 'no auth script is configured for this host',
  ERR_AUTH_LIFECYCLE: "the account was changed, but the user's OAuth grants and sessions could not be revoked",
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

/** Why a configuration reload was not applied (the running configuration stays). */
export const ReloadErrorCodes = {
  ERR_RELOAD_NOT_READY: 'the new auth script processes did not start and settle in time',
  ERR_RELOAD_BUSY: 'a reload is already in progress',
  ERR_RELOAD_CLOSED: 'the service is stopping',
} as const;

export type ReloadErrorCode = keyof typeof ReloadErrorCodes;

export class ReloadError extends Error {
  override readonly name = 'ReloadError';
  readonly code: ReloadErrorCode;

  constructor(code: ReloadErrorCode, detail?: string) {
    super(detail === undefined ? ReloadErrorCodes[code] : `${ReloadErrorCodes[code]}: ${detail}`);
    this.code = code;
  }
}
