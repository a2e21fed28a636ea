/**
 * The one place an error becomes an OAuth error response (RFC 6749 §5.2, RFC 7591 §3.2.2).
 * Anything that is not an exposed OAuthError is answered as a bare server_error, so no stack,
 * message or cause ever reaches a client.
 */
import { OAuthErrorCodes, isOAuthError, type OAuthErrorCode } from './errors.js';

export interface OAuthErrorResponse {
  readonly status: number;
  readonly body: { readonly error: OAuthErrorCode; readonly error_description: string };
}

/** The status and JSON body to answer `err` with. */
export function renderError(err: unknown): OAuthErrorResponse {
  if (isOAuthError(err) && err.expose) {
    return { status: err.status, body: { error: err.error, error_description: err.description } };
  }
  const entry = OAuthErrorCodes.server_error;
  return { status: entry.status, body: { error: 'server_error', error_description: entry.description } };
}
