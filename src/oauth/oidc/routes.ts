/** OpenID Connect routes (jwks, userinfo, openid-configuration): registered by plugin.ts. */
import type { FastifyInstance } from 'fastify';
import type { OAuthContext } from '../context.js';

export async function oidcRoutes(_app: FastifyInstance, _ctx: OAuthContext): Promise<void> {}

/** Metadata OpenID Connect adds (OpenID Connect Discovery 1.0 §3). */
export function oidcMetadata(): Record<string, unknown> {
  return {};
}
