/**
 * GET and POST /oauth2/device/verify: where the user types the user code (RFC 8628 §3.3).
 *
 * GET shows the form, pre-filled from `?user_code=` (verification_uri_complete, §3.3.1) but
 * never looked up on GET: the user still presses Continue, and the consent page shows the code
 * again to compare with the device (§5.4, remote phishing).
 *
 * POST, in order:
 *  1. CSRF token bound to this browser (session/csrf.ts);
 *  2. brute-force lockout (§5.1): once USER_CODE_FAILURE_LIMIT wrong codes came from this
 *     client address within the window (counted in the store, so shared by every instance),
 *     every entry is refused, a right one included, until the window ends;
 *  3. the code, normalized (user-code.ts); input that cannot be a code is a typo, not a guess,
 *     and is not counted;
 *  4. a pending, unexpired device of this host with that code, else one more failure;
 *  then 303 to the consent step, carrying a signed device request token (request.ts).
 * A right code never clears the failure count: an attacker could otherwise reset it with
 * codes of his own.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { addressKey } from '../../net/address-key.js';
import { formField, formOf, queryOf, type Form } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { errorPage } from '../pages/layout.js';
import { parseCookies } from '../session/cookies.js';
import { browserOf, checkCsrf, csrfToken } from '../session/csrf.js';
import { codeEntryPage } from '../pages/device.js';
import { browserId, CODE_ENTRY_FORM } from './browser.js';
import { DEVICE_PATHS } from './paths.js';
import { USER_CODE_FAILURE_LIMIT, USER_CODE_FAILURE_WINDOW_MS } from './policy.js';
import { deviceProblem, issueDeviceRequest, type DeviceProblem } from './request.js';
import { formatUserCode, normalizeUserCode } from './user-code.js';

const LOCKED = `Too many wrong codes were entered from your network. Wait ${USER_CODE_FAILURE_WINDOW_MS / 60_000} minutes, then try again.`;
const MALFORMED = 'A code has 8 letters, like BCDF-GHJK. Check the code on your device.';
const PROBLEMS: Readonly<Record<DeviceProblem, string>> = {
  unknown: 'That code is not valid. Check the code on your device and try again.',
  expired: 'That code has expired. Start again on your device to get a new code.',
  decided: 'That code has already been used. Start again on your device to get a new code.',
};

/**
 * The throttle counter of a client address, its /64 for IPv6 (http/address-key.ts), one
 * namespace in the store's throttle table.
 */
function throttleKey(req: FastifyRequest): string {
  return `device-user-code:${addressKey(req.ip)}`;
}

function locked(ctx: OAuthContext, reply: FastifyReply, csrf: string, userCode: string | undefined): FastifyReply {
  reply.header('retry-after', String(USER_CODE_FAILURE_WINDOW_MS / 1000));
  return codeEntryPage(ctx, reply, { status: 429, csrf, userCode, error: LOCKED });
}

export function verifyPageEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    let params: Form;
    try {
      params = queryOf(req);
    } catch (err) {
      return errorPage(ctx, reply, 400, 'Invalid request', (err as Error).message);
    }
    const typed = params['user_code'];
    const normalized = typed === undefined ? null : normalizeUserCode(typed);
    // A code from the link is shown as the device shows it; anything else as it came (bounded).
    const prefill = normalized !== null ? formatUserCode(normalized) : typed?.slice(0, 32);
    const csrf = csrfToken(ctx.host, browserId(ctx, req, reply), CODE_ENTRY_FORM);
    if ((await ctx.store.failuresOf(throttleKey(req), Date.now())) >= USER_CODE_FAILURE_LIMIT) return locked(ctx, reply, csrf, prefill);
    return codeEntryPage(ctx, reply, { csrf, userCode: prefill });
  };
}

export function verifyEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const form = formOf(req);
    const typed = formField(form, 'user_code');
    const browser = browserOf(ctx.host, parseCookies(req.headers.cookie));
    if (!checkCsrf(ctx.host, browser, CODE_ENTRY_FORM, formField(form, 'csrf'))) {
      // A fresh form (and cookie when missing): the user can simply try again.
      const csrf = csrfToken(ctx.host, browserId(ctx, req, reply), CODE_ENTRY_FORM);
      return codeEntryPage(ctx, reply, { status: 403, csrf, userCode: typed.slice(0, 32), error: 'This form had expired. Enter the code again.' });
    }
    const csrf = csrfToken(ctx.host, browser!, CODE_ENTRY_FORM);
    const key = throttleKey(req);
    const now = Date.now();
    if ((await ctx.store.failuresOf(key, now)) >= USER_CODE_FAILURE_LIMIT) {
      ctx.log.warn({ address: req.ip }, 'device user-code entry refused: too many wrong codes');
      return locked(ctx, reply, csrf, typed.slice(0, 32));
    }
    const code = normalizeUserCode(typed);
    if (code === null) return codeEntryPage(ctx, reply, { status: 400, csrf, userCode: typed.slice(0, 32), error: MALFORMED });

    const device = await ctx.store.findDeviceByUserCode(code);
    const problem = deviceProblem(ctx, device, now);
    if (problem !== null) {
      const failures = await ctx.store.hitFailure(key, now, USER_CODE_FAILURE_WINDOW_MS);
      if (failures >= USER_CODE_FAILURE_LIMIT) {
        ctx.log.warn({ address: req.ip, failures }, 'device user-code entry locked: too many wrong codes');
        return locked(ctx, reply, csrf, formatUserCode(code));
      }
      return codeEntryPage(ctx, reply, { status: 400, csrf, userCode: formatUserCode(code), error: PROBLEMS[problem] });
    }
    const request = await issueDeviceRequest(ctx, device!);
    return reply.code(303).header('location', `${ctx.host.basePath}${DEVICE_PATHS.consent}?request=${encodeURIComponent(request)}`).send();
  };
}
