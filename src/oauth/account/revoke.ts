/**
 * POST {issuer}/account/revoke: take an application's access away. After the session and the
 * CSRF token (gate.ts), the grant must be this user's on this host: an id of another user's
 * grant (or of another host's) is answered like an unknown one, so ids cannot be probed.
 * Revoking cascades to every token and unused code of the grant (storage port). Revoking an
 * already revoked grant is a success (a double submit). 303 back with a confirmation.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { formField } from '../../http/form.js';
import type { OAuthContext } from '../context.js';
import { signedInForm } from './gate.js';
import { accountMessage, accountPath } from '../pages/account.js';

export function revokeGrantEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    const gate = await signedInForm(ctx, req, reply);
    if (!gate.ok) return gate.reply;
    const { session, form } = gate;
    const id = formField(form, 'grant');
    const grant = id === '' || id.length > 64 ? null : await ctx.store.getGrant(id);
    if (grant === null || grant.host !== ctx.host.host || grant.user !== session.user) {
      if (grant !== null) ctx.log.warn({ user: session.user }, "refused to revoke another user's grant");
      return accountMessage(ctx, reply, 404, 'Not found', 'That application does not have access to your account.');
    }
    if (grant.revokedAt === null) {
      await ctx.store.revokeGrant(grant.id, Date.now());
      ctx.log.info({ user: session.user, client: grant.clientName }, 'user revoked access');
    }
    return reply.code(303).header('location', `${accountPath(ctx)}?revoked=${encodeURIComponent(grant.id)}`).send();
  };
}
