/** The id_token of a token response (OpenID Connect Core §3.1.3.3), when the scope has openid. */
import type { OAuthContext } from '../context.js';
import type { Grant } from '../../storage/port.js';

export interface IdTokenInput {
  readonly grant: Grant;
  readonly clientId: string;
  readonly scope: string;
  readonly nonce: string | null;
}

export async function idTokenFor(_ctx: OAuthContext, _input: IdTokenInput): Promise<string | undefined> {
  return undefined;
}
