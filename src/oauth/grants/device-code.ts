/**
 * grant_type=urn:ietf:params:oauth:grant-type:device_code at the token endpoint (RFC 8628
 * §3.4, §3.5). The client is already authenticated (endpoints/token.ts). In order:
 *  1. the client registered the device_code grant, else unauthorized_client;
 *  2. device_code is present, else invalid_request;
 *  3. the device code is known, of this host and of this client, else invalid_grant (a code
 *     is bound to the client that started it; another client's poll changes nothing);
 *  4. not yet redeemed, else invalid_grant (tokens are issued once);
 *  5. not expired, else expired_token;
 *  6. denied: access_denied;
 *  7. approved: consumed once (consumeDevice), then tokens for its grant; losing that race,
 *     or a grant revoked meanwhile, is invalid_grant;
 *  8. pending: slow_down when polled sooner than the interval after the previous poll, and
 *     the interval grows by SLOW_DOWN_STEP_S for this and every later poll (§3.5); else
 *     authorization_pending. Only pending polls are timed: a final answer is never delayed.
 */
import type { AuthenticatedClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import type { GrantRequest } from './grant.js';
import { issueTokens, type TokenResponse } from '../tokens/issue.js';
import { accessDenied, authorizationPending, expiredToken, invalidGrant, invalidRequest, slowDown, unauthorizedClient } from '../errors.js';
import { idTokenFor } from '../oidc/id-token.js';
import { DEVICE_CODE_GRANT } from '../registration/vocabulary.js';
import { hashSecret } from '../tokens/secrets.js';
import { SLOW_DOWN_STEP_S } from '../device/policy.js';

const invalid = (why: string) => invalidGrant(undefined, new Error(why));

export async function deviceCodeGrant(ctx: OAuthContext, client: AuthenticatedClient, body: Record<string, string>, req: GrantRequest): Promise<TokenResponse> {
  if (!client.metadata.grant_types.includes(DEVICE_CODE_GRANT)) throw unauthorizedClient('client did not register the device_code grant');
  const deviceCode = body['device_code'];
  if (deviceCode === undefined || deviceCode === '') throw invalidRequest('device_code is required');
  const hash = hashSecret(deviceCode);
  const now = Date.now();
  const device = await ctx.store.findDevice(hash);
  if (device === null || device.host !== ctx.host.host) throw invalid('unknown device code');
  if (device.clientHash !== client.clientHash) throw invalid('device code of another client');
  if (device.status === 'consumed') throw invalid('device code already redeemed');
  if (device.expiresAt <= now) throw expiredToken();
  if (device.status === 'denied') throw accessDenied('the user denied the request');

  if (device.status === 'approved') {
    if (!(await ctx.store.consumeDevice(hash))) throw invalid('device code already redeemed or its grant revoked');
    const grant = device.grantId === null ? null : await ctx.store.getGrant(device.grantId);
    if (grant === null || grant.revokedAt !== null) throw invalid('grant revoked');
    await ctx.store.touchGrant(grant.id, now);
    const jwt = req.resource === null ? null : { resource: req.resource, user: grant.user, generation: grant.generation };
    const tokens = await issueTokens(ctx, client, grant.id, device.scope, now, { jwt });
    ctx.log.info({ grant: grant.id, client: client.metadata.client_name }, 'device code redeemed');
    const idToken = await idTokenFor(ctx, { grant, clientId: client.clientId, scope: device.scope, nonce: null });
    return idToken === undefined ? tokens : { ...tokens, id_token: idToken };
  }

  // Pending. The previous poll's time and the interval come back from the store as they were
  // before this poll, so two racing polls cannot both pass as on time.
  const tooSoon = (d: { lastPollAt: number | null; interval: number }) => d.lastPollAt !== null && now - d.lastPollAt < d.interval * 1000;
  const slow = tooSoon(device);
  const before = await ctx.store.pollDevice(hash, now, slow ? device.interval + SLOW_DOWN_STEP_S : device.interval);
  if (before === null) throw invalid('unknown device code');
  if (slow || before.lastPollAt !== device.lastPollAt || tooSoon(before)) throw slowDown();
  throw authorizationPending();
}
