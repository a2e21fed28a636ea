/** What every grant type's handler at the token endpoint is (RFC 6749 §4, §6; RFC 8628 §3.4). */
import type { AuthenticatedClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import type { TokenResponse } from '../tokens/issue.js';

/** Facts of the HTTP request a grant may need. */
export interface GrantRequest {
  /** The client's address, for login throttling. */
  readonly address: string;
  /** The RFC 8707 `resource` asked for, already checked to be one of the host's JWT resources; null: none. */
  readonly resource: string | null;
}

export type GrantHandler = (ctx: OAuthContext, client: AuthenticatedClient, body: Record<string, string>, req: GrantRequest) => Promise<TokenResponse>;
