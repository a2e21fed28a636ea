/** The device authorization grant's routes (RFC 8628): registered by plugin.ts. */
import type { FastifyInstance } from 'fastify';
import type { OAuthContext } from '../context.js';

export async function deviceRoutes(_app: FastifyInstance, _ctx: OAuthContext): Promise<void> {}

/** Metadata the device grant adds (RFC 8628 §4). */
export function deviceMetadata(): Record<string, unknown> {
  return {};
}
