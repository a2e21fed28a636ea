/**
 * What every form of a signed-in user checks first, before it reads anything else: a valid
 * session cookie, then the CSRF token bound to this browser and this user (csrf.ts).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formOf, type Form } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { parseCookies } from '../session/cookies.js';
import { browserOf } from '../session/csrf.js';
import { readSession, type Session } from '../session/session.js';
import { checkAccountCsrf } from './csrf.js';
import { accountMessage } from '../pages/account.js';

export type Gate =
  | { readonly ok: true; readonly session: Session; readonly form: Form; readonly browser: string }
  | { readonly ok: false; readonly reply: FastifyReply };


export function formExpired(ctx: OAuthContext, reply: FastifyReply): FastifyReply {
  return accountMessage(ctx, reply, 403, 'Form expired', 'This form is no longer valid. Go back to your account page and try again.');
}

export async function signedInForm(ctx: OAuthContext, req: FastifyRequest, reply: FastifyReply): Promise<Gate> {
  const cookies = parseCookies(req.headers.cookie);
  const form = formOf(req);
  const session = await readSession(ctx, cookies);
  if (session === null) {
    return { ok: false, reply: accountMessage(ctx, reply, 401, 'Signed out', 'Your sign-in has expired. Sign in again to continue.') };
  }
  if (!checkAccountCsrf(ctx.host, cookies, session.user, form['csrf'])) return { ok: false, reply: formExpired(ctx, reply) };
  return { ok: true, session, form, browser: browserOf(ctx.host, cookies)! };
}
