/** grant_type=urn:ietf:params:oauth:grant-type:device_code at the token endpoint (RFC 8628 §3.4). */
import type { AuthenticatedClient } from '../clientauth.js';
import type { OAuthContext } from '../context.js';
import { OAuthError } from '../errors.js';
import type { TokenResponse } from '../endpoints/token.js';

export async function deviceCodeGrant(_ctx: OAuthContext, _client: AuthenticatedClient, _body: Record<string, string>): Promise<TokenResponse> {
  throw new OAuthError('unsupported_grant_type');
}
