/**
 * POST /oauth2/device: the device authorization request (RFC 8628 §3.1, §3.2), in order:
 *  1. rate limit per client address (shared with the token endpoint);
 *  2. a form body (§3.1: application/x-www-form-urlencoded), each parameter at most once;
 *  3. client authentication as at the token endpoint (public clients send client_id alone);
 *  4. the client registered the device_code grant, else unauthorized_client;
 *  5. scope: known scopes, within what the client registered, at least one (as /authorize);
 *  then a device code (random, only its SHA-256 stored) and a user code (user-code.ts), valid
 *  DEVICE_CODE_TTL_S, polled no faster than every POLL_INTERVAL_S.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formOf } from '../../http/form.js';
import { isStorageError } from '../../storage/errors.js';
import type { DeviceRecord } from '../../storage/port.js';
import { authenticateClient } from '../clients/authenticate.js';
import type { OAuthContext } from '../context.js';
import { enforceRate } from '../respond/rate-limit.js';
import { sendOAuthError } from '../respond/send-error.js';
import { invalidScope, unauthorizedClient } from '../errors.js';
import { DEVICE_CODE_GRANT } from '../registration/vocabulary.js';
import { limitToClient, parseScope } from '../consent/scopes.js';
import { hashSecret, newSecret } from '../tokens/secrets.js';
import { DEVICE_PATHS } from './paths.js';
import { DEVICE_CODE_TTL_S, POLL_INTERVAL_S, USER_CODE_ATTEMPTS } from './policy.js';
import { formatUserCode, newUserCode } from './user-code.js';

/** The device authorization response (RFC 8628 §3.2). */
export interface DeviceAuthorizationResponse {
  readonly device_code: string;
  readonly user_code: string;
  readonly verification_uri: string;
  readonly verification_uri_complete: string;
  readonly expires_in: number;
  readonly interval: number;
}

/** Where devices start (RFC 8414 `device_authorization_endpoint`, RFC 8628 §4). */
export const DEVICE_AUTHORIZATION_PATH = '/oauth2/device';

export function deviceAuthorizationEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      enforceRate(ctx.limits.token, req, reply, 'device authorization requests');
      const body = formOf(req);
      const client = await authenticateClient(ctx.host, req.headers.authorization, body);
      if (!client.metadata.grant_types.includes(DEVICE_CODE_GRANT)) {
        throw unauthorizedClient('client did not register the device_code grant');
      }
      const requested = parseScope(body['scope']);
      if (requested === null) throw invalidScope('unknown scope');
      const scope = limitToClient(requested, client.metadata);
      if (scope.length === 0) throw invalidScope('no scope requested that the client registered');

      const deviceCode = newSecret();
      const now = Date.now();
      const userCode = await saveWithFreshUserCode(ctx, (code) => ({
        deviceHash: hashSecret(deviceCode),
        userCode: code,
        host: ctx.host.host,
        clientHash: client.clientHash,
        clientId: client.clientId,
        scope: scope.join(' '),
        createdAt: now,
        expiresAt: now + DEVICE_CODE_TTL_S * 1000,
        interval: POLL_INTERVAL_S,
        lastPollAt: null,
        status: 'pending',
        grantId: null,
      }));
      ctx.log.info({ client: client.metadata.client_name, scope: scope.join(' ') }, 'device authorization started');
      const shown = formatUserCode(userCode);
      const verificationUri = ctx.host.url(DEVICE_PATHS.verify);
      const response: DeviceAuthorizationResponse = {
        device_code: deviceCode,
        user_code: shown,
        verification_uri: verificationUri,
        verification_uri_complete: `${verificationUri}?user_code=${encodeURIComponent(shown)}`,
        expires_in: DEVICE_CODE_TTL_S,
        interval: POLL_INTERVAL_S,
      };
      return reply.send(response);
    } catch (err) {
      return sendOAuthError(ctx, reply, err);
    }
  };
}


/**
 * Store the device with a fresh user code, drawing again when the code is taken (the column
 * is unique). Returns the user code stored.
 */
async function saveWithFreshUserCode(
  ctx: OAuthContext,
  record: (userCode: string) => DeviceRecord,
): Promise<string> {
  for (let attempt = 1; ; attempt++) {
    const userCode = newUserCode();
    try {
      await ctx.store.saveDevice(record(userCode));
      return userCode;
    } catch (err) {
      if (!(isStorageError(err) && err.code === 'ERR_STORAGE_CONFLICT') || attempt >= USER_CODE_ATTEMPTS) throw err;
    }
  }
}
