/**
 * POST /oauth2/register (RFC 7591 §3): validates the metadata and answers 201 with a client_id
 * that carries it, signed, and the derived client_secret. Nothing is written anywhere: every
 * later endpoint recovers the client from the client_id alone (DESIGN.md).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { OAuthContext } from '../context.js';
import { isOAuthError } from '../errors.js';
import { clientInformationJson, issueClient } from '../registration/client-id.js';
import { validateClientMetadata } from '../registration/metadata.js';
import { enforceRate } from '../respond/rate-limit.js';
import { sendOAuthError } from '../respond/send-error.js';

export function registerEndpoint(ctx: OAuthContext) {
  return async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
    try {
      enforceRate(ctx.limits.registration, req, reply, 'registrations');
      const metadata = validateClientMetadata(req.body);
      const info = await issueClient(metadata, ctx.host.keys, { ttlS: ctx.host.registrationTtlS });
      ctx.log.info({ client: metadata.client_name, uri: metadata.client_uri }, 'client registered');
      return reply.code(201).type('application/json; charset=utf-8').send(clientInformationJson(info));
    } catch (err) {
      // The description names the member at fault and never echoes its value (fields.ts).
      if (isOAuthError(err) && (err.error === 'invalid_client_metadata' || err.error === 'invalid_redirect_uri')) {
        ctx.log.info({ error: err.error, reason: err.description }, 'client registration refused');
      }
      return sendOAuthError(ctx, reply, err);
    }
  };
}
