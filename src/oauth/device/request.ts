/**
 * The device request token: once a user has typed a valid user code, the pages that follow
 * (login, consent, done) carry this signed token rather than the code, so nothing the user
 * can edit is trusted on POST. It names the device by its user code and device-code hash,
 * signed with the host's request key under its own `typ` (an authorization-request token
 * cannot pass for it, RFC 8725 §3.11), and expires with the device.
 */
import { jwtVerify, SignJWT } from 'jose';
import type { DeviceRecord } from '../../storage/port.js';
import type { OAuthContext } from '../context.js';

const TYP = 'gh-device-request+jwt';

/** What a device request token names. */
export interface DeviceRequest {
  /** Normalized user code. */
  readonly userCode: string;
  readonly deviceHash: string;
}

/** A token for `device`, valid until the device expires. */
export async function issueDeviceRequest(ctx: OAuthContext, device: DeviceRecord): Promise<string> {
  return new SignJWT({ uc: device.userCode, dh: device.deviceHash })
    .setProtectedHeader({ alg: 'HS256', typ: TYP })
    .setAudience(ctx.host.issuer)
    .setIssuedAt()
    .setExpirationTime(Math.floor(device.expiresAt / 1000))
    .sign(ctx.host.requestKey);
}

/** The request a token names, or null when it is forged, of another host, or expired. */
export async function readDeviceRequest(ctx: OAuthContext, token: string | undefined): Promise<DeviceRequest | null> {
  if (token === undefined || token === '') return null;
  try {
    const { payload } = await jwtVerify(token, ctx.host.requestKey, { algorithms: ['HS256'], typ: TYP, audience: ctx.host.issuer });
    const { uc, dh } = payload as Record<string, unknown>;
    return typeof uc === 'string' && typeof dh === 'string' ? { userCode: uc, deviceHash: dh } : null;
  } catch {
    return null;
  }
}

/** Why a device can no longer be decided on, for the page that says so; null when it can. */
export type DeviceProblem = 'unknown' | 'expired' | 'decided';

/** Whether a device found by its user code may still be approved or denied by this host's user. */
export function deviceProblem(ctx: OAuthContext, device: DeviceRecord | null, now: number): DeviceProblem | null {
  if (device === null || device.host !== ctx.host.host) return 'unknown';
  if (device.expiresAt <= now) return 'expired';
  if (device.status !== 'pending') return 'decided';
  return null;
}

/**
 * The pending device a request token names, re-read from storage: null when the token is
 * bad, or the device is gone, of another host, expired or already decided.
 */
export async function pendingDevice(ctx: OAuthContext, token: string | undefined, now: number): Promise<DeviceRecord | null> {
  const request = await readDeviceRequest(ctx, token);
  if (request === null) return null;
  const device = await ctx.store.findDevice(request.deviceHash);
  if (device === null || device.userCode !== request.userCode) return null;
  return deviceProblem(ctx, device, now) === null ? device : null;
}
