/**
 * Errors of the OAuth 2.0 server. Each carries the registered `error` value (RFC 6749 §4.1.2.1,
 * §5.2; RFC 6750 §3.1; RFC 7009 §2.2.1; RFC 7591 §3.2.2; RFC 8628 §3.5), the HTTP status it is
 * answered with, and an `expose` flag: an error that is not exposed reaches the client only as
 * a bare `server_error` (see respond/render-error.ts). `description` is what the client may read;
 * the real reason for the log travels in `cause`.
 */

/** Every `error` value Gatehouse may answer with, with its default status and description. */
export const OAuthErrorCodes = {
  // RFC 6749 §4.1.2.1 and §5.2.
  invalid_request: { status: 400, description: 'the request is missing a parameter or is malformed' },
  invalid_client: { status: 401, description: 'client authentication failed' },
  invalid_grant: { status: 400, description: 'the grant is invalid, expired or revoked' },
  unauthorized_client: { status: 400, description: 'the client is not allowed to use this grant type' },
  unsupported_grant_type: { status: 400, description: 'the grant type is not supported' },
  unsupported_response_type: { status: 400, description: 'the response type is not supported' },
  invalid_scope: { status: 400, description: 'the requested scope is invalid or unknown' },
  access_denied: { status: 400, description: 'the resource owner or server denied the request' },
  server_error: { status: 500, description: 'the server encountered an unexpected error' },
  temporarily_unavailable: { status: 503, description: 'the server is temporarily unable to handle the request' },
  // RFC 6750 §3.1 (bearer token use).
  invalid_token: { status: 401, description: 'the access token is invalid, expired or revoked' },
  insufficient_scope: { status: 403, description: 'the access token lacks the required scope' },
  // RFC 7009 §2.2.1 (revocation).
  unsupported_token_type: { status: 400, description: 'the token type is not supported' },
  // RFC 7591 §3.2.2 (dynamic client registration).
  invalid_redirect_uri: { status: 400, description: 'a redirect URI is invalid' },
  invalid_client_metadata: { status: 400, description: 'a client metadata value is invalid' },
  invalid_software_statement: { status: 400, description: 'the software statement is invalid' },
  unapproved_software_statement: { status: 400, description: 'the software statement is not approved' },
  // RFC 8628 §3.5 (device authorization grant).
  authorization_pending: { status: 400, description: 'the authorization request is still pending' },
  slow_down: { status: 400, description: 'polling too fast; slow down' },
  expired_token: { status: 400, description: 'the device code has expired' },
  // RFC 8707 §2 (resource indicators).
  invalid_target: { status: 400, description: 'the requested resource is invalid or unknown' },
} as const satisfies Record<string, { readonly status: number; readonly description: string }>;

export type OAuthErrorCode = keyof typeof OAuthErrorCodes;

export interface OAuthErrorOptions {
  /** HTTP status; defaults to the catalogue's. */
  status?: number;
  /** false: answered as a bare server_error. Defaults to true except for server_error. */
  expose?: boolean;
  /** The real reason, for the log only. */
  cause?: unknown;
}

// RFC 6749 §5.2: error and error_description are limited to %x20-21 / %x23-5B / %x5D-7E.
const ERROR_DESCRIPTION = /^[\x20\x21\x23-\x5b\x5d-\x7e]*$/;

/** True when `s` may be sent as an `error_description` (RFC 6749 §5.2 character set). */
export function isSafeDescription(s: string): boolean {
  return ERROR_DESCRIPTION.test(s);
}

/** An OAuth error with its RFC `error` value, HTTP status and exposure. */
export class OAuthError extends Error {
  override readonly name = 'OAuthError';
  readonly error: OAuthErrorCode;
  readonly status: number;
  readonly expose: boolean;
  /** Safe for clients: never contains a secret or an echo of client input. */
  readonly description: string;

  constructor(error: OAuthErrorCode, description?: string, options: OAuthErrorOptions = {}) {
    if (!Object.hasOwn(OAuthErrorCodes, error)) throw new TypeError(`unknown OAuth error code: ${String(error)}`);
    const entry = OAuthErrorCodes[error];
    const text = description ?? entry.description;
    if (!isSafeDescription(text)) {
      throw new TypeError('error_description must use only the RFC 6749 section 5.2 character set');
    }
    super(`${error}: ${text}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.error = error;
    this.status = options.status ?? entry.status;
    this.expose = options.expose ?? error !== 'server_error';
    this.description = text;
  }
}

export function isOAuthError(err: unknown): err is OAuthError {
  return err instanceof OAuthError;
}

type Description = string | undefined;

/**
 * The factories of the catalogue, one per `error` value a handler raises: `description` is what
 * the client may read (the catalogue's default when absent), `cause` the real reason for the
 * log, `status` an override of the catalogue's status (a 429 or 415 that is still, by its
 * code, an invalid_request or temporarily_unavailable).
 */
type Factory = (description?: Description, cause?: unknown, status?: number) => OAuthError;

const factory =
  (error: OAuthErrorCode): Factory =>
  (description, cause, status) =>
    new OAuthError(error, description, { cause, status });

/** RFC 6749 §5.2 invalid_request. */
export const invalidRequest = factory('invalid_request');

/** RFC 6749 §5.2 invalid_client (401, RFC 6749 §5.2: with a WWW-Authenticate challenge). */
export const invalidClient = factory('invalid_client');

/** RFC 6749 §5.2 invalid_grant. */
export const invalidGrant = factory('invalid_grant');

/** RFC 6749 §5.2 invalid_scope. */
export const invalidScope = factory('invalid_scope');

/** RFC 6749 §5.2 unauthorized_client (also RFC 7009 §2.1: another client's token). */
export const unauthorizedClient = factory('unauthorized_client');

/** RFC 6749 §5.2 unsupported_grant_type. */
export const unsupportedGrantType = factory('unsupported_grant_type');

/** RFC 6749 §4.1.2.1 access_denied (RFC 8628 §3.5: the user denied the device). */
export const accessDenied = factory('access_denied');

/** RFC 6749 §4.1.2.1, §5.2 temporarily_unavailable (exposed: the client should retry). */
export const temporarilyUnavailable = factory('temporarily_unavailable');

/** RFC 6750 §3.1 invalid_token (401). */
export const invalidToken = factory('invalid_token');

/** RFC 6750 §3.1 insufficient_scope (403). */
export const insufficientScope = factory('insufficient_scope');

/** RFC 7591 §3.2.2 invalid_redirect_uri. */
export const invalidRedirectUri = factory('invalid_redirect_uri');

/** RFC 7591 §3.2.2 invalid_client_metadata. */
export const invalidClientMetadata = factory('invalid_client_metadata');

/** RFC 8628 §3.5 authorization_pending: the user has not decided yet; poll again. */
export const authorizationPending = factory('authorization_pending');

/** RFC 8628 §3.5 slow_down: polled too soon; the interval grows. */
export const slowDown = factory('slow_down');

/** RFC 8628 §3.5 expired_token: the device code expired. */
export const expiredToken = factory('expired_token');

/** RFC 8707 §2: a `resource` the server does not know. */
export const invalidTarget = factory('invalid_target');
