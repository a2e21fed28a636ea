/**
 * The device authorization grant's routes (RFC 8628), registered by plugin.ts:
 *  - POST /oauth2/device           device authorization request (§3.1), JSON answer (§3.2);
 *  - GET|POST /oauth2/device/verify  the user-code page (§3.3), brute-force limited (§5.1);
 *  - GET|POST /oauth2/device/consent, POST /oauth2/device/login, GET /oauth2/device/done:
 *    sign-in and consent, sharing the browser session of the authorization code flow.
 * Polling is a grant type of the token endpoint (grant.ts).
 */
import type { FastifyInstance } from 'fastify';
import { allowCrossOrigin } from '../../http/cors.js';
import type { OAuthContext } from '../context.js';
import type { OAuthHost } from '../host.js';
import { deviceAuthorizationEndpoint, DEVICE_AUTHORIZATION_PATH } from './authorization.js';
import { consentEndpoint, consentPageEndpoint, donePageEndpoint } from './consent.js';
import { loginEndpoint } from './login.js';
import { DEVICE_PATHS } from './paths.js';
import { verifyEndpoint, verifyPageEndpoint } from './verify.js';

export async function deviceRoutes(app: FastifyInstance, ctx: OAuthContext): Promise<void> {
  app.post(DEVICE_AUTHORIZATION_PATH, deviceAuthorizationEndpoint(ctx));
  allowCrossOrigin(app, DEVICE_AUTHORIZATION_PATH, ['POST']);
  app.get(DEVICE_PATHS.verify, verifyPageEndpoint(ctx));
  app.post(DEVICE_PATHS.verify, verifyEndpoint(ctx));
  app.get(DEVICE_PATHS.consent, consentPageEndpoint(ctx));
  app.post(DEVICE_PATHS.consent, consentEndpoint(ctx));
  app.post(DEVICE_PATHS.login, loginEndpoint(ctx));
  app.get(DEVICE_PATHS.done, donePageEndpoint(ctx));
}

/** Metadata the device grant adds (RFC 8628 §4); its grant type is listed by endpoints/metadata.ts. */
export function deviceMetadata(host: OAuthHost): Record<string, unknown> {
  return { device_authorization_endpoint: host.url(DEVICE_AUTHORIZATION_PATH) };
}
