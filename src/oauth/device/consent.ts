/**
 * The user's side after a right code (RFC 8628 §3.3), all bound to the signed device request
 * token and re-checked against storage at every step (the device must still be pending,
 * unexpired and of this host):
 *  - GET /oauth2/device/consent: the sign-in page, or the consent page when this browser has
 *    a session (session/session.ts, shared with the authorization code flow);
 *  - POST /oauth2/device/consent: CSRF first, then the decision. Allow creates a grant (as
 *    authorize/consent.ts does) and approves the device with it; Deny denies it. Either way
 *    303 to the done page. A device decided meanwhile (another tab) keeps its first answer;
 *    the grant made for the losing answer is revoked at once;
 *  - GET /oauth2/device/done: reads the outcome from storage, never from the URL.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { DeviceRecord } from '../../storage/port.js';
import { formField, formOf, queryOf } from '../../http/form.js';
import { clientDisplay } from '../clients/identity.js';
import type { OAuthContext } from '../context.js';
import { lookupClient } from '../clients/lookup.js';
import type { ClientMetadata } from '../registration/metadata.js';
import { hashSecret, newId } from '../tokens/secrets.js';
import { parseCookies } from '../session/cookies.js';
import { browserOf, checkCsrf, csrfToken } from '../session/csrf.js';
import { readSession } from '../session/session.js';
import { deviceConsentPage, deviceDonePage, deviceErrorPage, deviceLoginPage } from '../pages/device.js';
import { browserId } from './browser.js';
import { DEVICE_PATHS } from './paths.js';
import { pendingDevice, readDeviceRequest } from './request.js';

const EXPIRED = 'This request has expired or was already answered. Enter the code from your device again.';

/** The `request` query parameter, or undefined (also when repeated). */
function requestParam(req: FastifyRequest): string | undefined {
  try {
    return queryOf(req)['request'];
  } catch {
    return undefined;
  }
}

/** The client of a device, or null when its registration no longer verifies (expired, key rotated out). */
async function clientOf(ctx: OAuthContext, device: DeviceRecord): Promise<ClientMetadata | null> {
  try {
    return (await lookupClient(ctx.host, device.clientId)).metadata;
  } catch {
    return null;
  }
}

function unknownClient(ctx: OAuthContext, reply: FastifyReply): FastifyReply {
  return deviceErrorPage(ctx, reply, 400, 'Unknown application', 'The application is no longer registered with this server.');
}

/** Where the consent step lives for a request token. */
export function consentLocation(ctx: OAuthContext, request: string): string {
  return `${ctx.host.basePath}${DEVICE_PATHS.consent}?request=${encodeURIComponent(request)}`;
}

export function consentPageEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const request = requestParam(req);
    const device = await pendingDevice(ctx, request, Date.now());
    if (device === null) return deviceErrorPage(ctx, reply, 400, 'Request expired', EXPIRED);
    const client = await clientOf(ctx, device);
    if (client === null) return unknownClient(ctx, reply);
    const csrf = csrfToken(ctx.host, browserId(ctx, req, reply), request!);
    const session = await readSession(ctx, parseCookies(req.headers.cookie));
    // A device client has no redirect URI to prove its name (clients/identity.ts).
    const shown = clientDisplay(client, null);
    if (session === null) return deviceLoginPage(ctx, reply, { clientName: shown.name, request: request!, csrf });
    return deviceConsentPage(ctx, reply, {
      client: shown,
      scope: device.scope,
      user: session.user,
      userCode: device.userCode,
      request: request!,
      csrf,
    });
  };
}

export function consentEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const cookies = parseCookies(req.headers.cookie);
    const form = formOf(req);
    const request = formField(form, 'request');
    if (!checkCsrf(ctx.host, browserOf(ctx.host, cookies), request, formField(form, 'csrf'))) {
      return deviceErrorPage(ctx, reply, 403, 'Form expired', 'This form is no longer valid. Enter the code from your device again.');
    }
    const now = Date.now();
    const device = await pendingDevice(ctx, request, now);
    if (device === null) return deviceErrorPage(ctx, reply, 400, 'Request expired', EXPIRED);
    const client = await clientOf(ctx, device);
    if (client === null) return unknownClient(ctx, reply);
    const session = await readSession(ctx, cookies);
    // Signed out meanwhile: back to the consent step, which asks to sign in.
    if (session === null) return reply.code(303).header('location', consentLocation(ctx, request)).send();
    const done = `${ctx.host.basePath}${DEVICE_PATHS.done}?request=${encodeURIComponent(request)}`;

    if (formField(form, 'decision') !== 'allow') {
      await ctx.store.decideDevice(device.deviceHash, { approved: false });
      ctx.log.info({ user: session.user, client: client.client_name }, 'user denied a device');
      return reply.code(303).header('location', done).send();
    }
    const grantId = newId();
    await ctx.store.createGrant({
      id: grantId,
      host: ctx.host.host,
      user: session.user,
      clientId: device.clientId,
      clientHash: hashSecret(device.clientId),
      clientName: client.client_name,
      clientUri: client.client_uri ?? '',
      scope: device.scope,
      createdAt: now,
      lastUsedAt: now,
      authTime: session.authTime * 1000,
      revokedAt: null,
      generation: session.generation,
    });
    if (!(await ctx.store.decideDevice(device.deviceHash, { approved: true, grantId }))) {
      await ctx.store.revokeGrant(grantId, now);
      return deviceErrorPage(ctx, reply, 409, 'Already answered', 'This device was already allowed or denied.');
    }
    ctx.log.info({ user: session.user, client: client.client_name, scope: device.scope }, 'user approved a device');
    return reply.code(303).header('location', done).send();
  };
}

export function donePageEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const request = requestParam(req);
    const named = await readDeviceRequest(ctx, request);
    const device = named === null ? null : await ctx.store.findDevice(named.deviceHash);
    if (device === null || device.userCode !== named!.userCode || device.host !== ctx.host.host) {
      return deviceErrorPage(ctx, reply, 400, 'Page expired', 'This page has expired. Your device shows whether it is connected.');
    }
    if (device.status === 'pending') return reply.code(303).header('location', consentLocation(ctx, request!)).send();
    const clientName = (await clientOf(ctx, device))?.client_name ?? 'The application';
    if (device.status === 'denied') return deviceDonePage(ctx, reply, { approved: false, clientName, user: null });
    const grant = device.grantId === null ? null : await ctx.store.getGrant(device.grantId);
    return deviceDonePage(ctx, reply, { approved: true, clientName, user: grant?.user ?? null });
  };
}
