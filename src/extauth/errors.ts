/**
 * Errors of the external auth engine. Every failure that is not a plain "no" is one of
 * these, with a stable `code`, so that callers can `switch (err.code)` and map it to a
 * temporary failure (DESIGN.md, engine rule 7). Messages never contain a password.
 */

export const ExtauthErrorCodes = {
  /** user, host or password cannot be sent safely (DESIGN.md rule 2). */
  ERR_EXTAUTH_INVALID_INPUT: 'invalid input',
  /** No reply within `external_auth_timeout`; the process was killed. */
  ERR_EXTAUTH_TIMEOUT: 'timed out waiting for the auth script',
  /** The queue was full, or a query waited longer than `external_auth_queue_timeout`. */
  ERR_EXTAUTH_OVERLOADED: 'too many queries waiting for an auth process',
  /** The process exited (or closed its stdout) while a query was in flight. */
  ERR_EXTAUTH_EXITED: 'the auth script exited',
  /** The reply broke the protocol; the process was recycled. */
  ERR_EXTAUTH_BAD_REPLY: 'the auth script sent an invalid reply',
  /** The program could not be started. */
  ERR_EXTAUTH_SPAWN_FAILED: 'the auth script could not be started',
  /** Every process is down and restarting after repeated failures. */
  ERR_EXTAUTH_UNAVAILABLE: 'no auth process is available',
  /** The engine is shut down or shutting down. */
  ERR_EXTAUTH_CLOSED: 'the auth engine is closed',
  /** The caller's AbortSignal fired before a reply. */
  ERR_EXTAUTH_ABORTED: 'the query was aborted',
  /**
   * The caller's own deadline passed before a reply (a caller that stops waiting and would
   * misread a late answer); a process still busy with the query was killed and replaced.
   */
  ERR_EXTAUTH_DEADLINE: "no answer before the caller's deadline",
  /** The command is not supported by this engine or script. */
  ERR_EXTAUTH_UNSUPPORTED: 'the command is not supported',
} as const;

export type ExtauthErrorCode = keyof typeof ExtauthErrorCodes;

export interface ExtauthErrorDetails {
  /** Underlying error (spawn error, wire error). */
  cause?: unknown;
  /** Exit code of the process, when it exited. */
  exitCode?: number | null;
  /** Signal that ended the process, when it was signalled. */
  signal?: NodeJS.Signals | null;
  /** The query reached the script (true) or never left the engine (false). */
  sent?: boolean;
  /** For invalid input: which field was rejected. */
  field?: 'command' | 'user' | 'host' | 'password' | 'query';
}

/** A typed engine error. `code` is stable; `message` is for humans. */
export class ExtauthError extends Error {
  override readonly name = 'ExtauthError';
  readonly code: ExtauthErrorCode;
  readonly exitCode: number | null | undefined;
  readonly signal: NodeJS.Signals | null | undefined;
  readonly sent: boolean;
  readonly field: ExtauthErrorDetails['field'];

  constructor(code: ExtauthErrorCode, message?: string, details: ExtauthErrorDetails = {}) {
    super(message ?? ExtauthErrorCodes[code], details.cause === undefined ? undefined : { cause: details.cause });
    this.code = code;
    this.exitCode = details.exitCode;
    this.signal = details.signal;
    this.sent = details.sent ?? false;
    this.field = details.field;
  }

  /** True when the answer is unknown and a caller should report a temporary failure. */
  get temporary(): boolean {
    return this.code !== 'ERR_EXTAUTH_INVALID_INPUT' && this.code !== 'ERR_EXTAUTH_UNSUPPORTED';
  }
}

export function isExtauthError(err: unknown): err is ExtauthError {
  return err instanceof ExtauthError;
}
