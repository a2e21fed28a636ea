/** The account page's routes (grants, revocation, password change): registered by plugin.ts. */
import type { FastifyInstance } from 'fastify';
import type { OAuthContext } from '../context.js';

export async function accountRoutes(_app: FastifyInstance, _ctx: OAuthContext): Promise<void> {}
