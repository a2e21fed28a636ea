/**
 * The one place an error becomes an OAuth error response (RFC 6749 §5.2, RFC 7591 §3.2.2).
 * Anything that is not an exposed OAuthError is answered as a bare server_error, so no stack,
 * message or cause ever reaches a client.
 */
import { MalformedParametersError, UnsupportedBodyError } from '../../http/form.js';
import { invalidRequest, isOAuthError, OAuthErrorCodes, type OAuthErrorCode } from '../errors.js';

export interface OAuthErrorResponse {
  readonly status: number;
  readonly body: { readonly error: OAuthErrorCode; readonly error_description: string };
}

/** The status and JSON body to answer `err` with. */
export function renderError(err: unknown): OAuthErrorResponse {
  err = edgeError(err);
  if (isOAuthError(err) && err.expose) {
    return { status: err.status, body: { error: err.error, error_description: err.description } };
  }
  const entry = OAuthErrorCodes.server_error;
  return { status: entry.status, body: { error: 'server_error', error_description: entry.description } };
}

/**
 * The edge decoder's refusals (http/form.ts) as the OAuth error they are: invalid_request,
 * 415 for a body of the wrong type, else 400, with a fixed description.
 */
export function edgeError(err: unknown): unknown {
  if (err instanceof UnsupportedBodyError) {
    return invalidRequest('the request body must be application/x-www-form-urlencoded', err, 415);
  }
  if (err instanceof MalformedParametersError) {
    return invalidRequest(err.reason === 'repeated' ? 'a parameter is given more than once' : 'the request parameters are not valid percent-encoded UTF-8', err);
  }
  return err;
}
