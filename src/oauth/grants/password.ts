/**
 * grant_type=password (RFC 6749 §4.3), for legacy clients only: off unless the host sets
 * `oauth2_password_grant` (RFC 9700 §2.4: it MUST NOT be used otherwise), and only for clients
 * that registered it. The password is checked by the auth script with the throttling every
 * face shares, and a newline in it is refused before it reaches the script.
 */
import type { AuthenticatedClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import { invalidGrant, invalidRequest, invalidScope, temporarilyUnavailable, unauthorizedClient, unsupportedGrantType } from '../errors.js';
import { checkPassword } from '../password-check.js';
import { limitToClient, parseScope } from '../consent/scopes.js';
import { createGrant } from '../consent/grant.js';
import { prepareUsername, stripOwnHost } from '../session/username.js';
import type { GrantRequest } from './grant.js';
import { issueTokens, type TokenResponse } from '../tokens/issue.js';

export async function passwordGrant(
  ctx: OAuthContext,
  client: AuthenticatedClient,
  body: Record<string, string>,
  req: GrantRequest,
): Promise<TokenResponse> {
  if (!ctx.host.passwordGrant) throw unsupportedGrantType();
  if (!client.metadata.grant_types.includes('password')) throw unauthorizedClient();
  const username = body['username'];
  const password = body['password'];
  if (username === undefined || password === undefined) throw invalidRequest('username and password are required');
  const requested = parseScope(body['scope']);
  if (requested === null) throw invalidScope();
  const scope = limitToClient(requested, client.metadata);
  if (scope.length === 0) throw invalidScope('no scope requested that the client registered');
  const prepared = prepareUsername(stripOwnHost(username, ctx.host.host));
  const refused = (why: string) => invalidGrant('wrong username or password', new Error(why));
  if (!prepared.ok) throw refused(prepared.message);
  const check = await checkPassword(ctx, prepared.user, password, req.address);
  if (check.result === 'wrong') throw refused('the auth script said no, or the password cannot be sent');
  if (check.result === 'throttled') throw invalidGrant('too many failed attempts; try again later');
  if (check.result === 'unavailable') throw temporarilyUnavailable();
  const now = Date.now();
  const grantId = await createGrant(ctx, { user: prepared.user, clientId: client.clientId, client: client.metadata, scope: scope.join(' '), authTime: now, generation: check.generation, now });
  const jwt = req.resource === null ? null : { resource: req.resource, user: prepared.user, generation: check.generation };
  return issueTokens(ctx, client, grantId, scope.join(' '), now, { jwt });
}
