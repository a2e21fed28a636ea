/**
 * The HTTP application factory, separate from listening (fastify's testing guide): tests
 * build it and call inject() or listen on port 0.
 *
 * Hardened defaults: a small body limit, prototype-poisoning payloads rejected, Ajv without
 * type coercion or removal of extra properties (a server should refuse bad input, not fix
 * it), fastify's own request logging off because query strings may carry passwords.
 */
import Fastify, { type FastifyInstance } from 'fastify';
import type { Accounts } from '../accounts/accounts.js';
import { authApi } from '../authapi/routes.js';
import type { GatehouseConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import { securityHeaders } from './headers.js';

export interface AppOptions {
  readonly config: GatehouseConfig;
  readonly accounts: Accounts;
  readonly logger?: Logger;
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const log = options.logger ?? silentLogger;
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
  });
  securityHeaders(app);

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err: err.message, code: err.code, url: req.routeOptions.url }, 'request failed');
    // Client errors say what was wrong; server errors say nothing of the internals.
    void reply.code(status).type('text/plain; charset=utf-8').send(status === 500 ? 'internal error' : err.message);
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).type('text/plain; charset=utf-8').send('not found');
  });

  app.get('/healthz', async () => ({ status: 'ok' }));

  await app.register(authApi, {
    prefix: options.config.authApi.path,
    accounts: options.accounts,
    credentials: options.config.authApi.credentials,
    logger: log.child({ face: 'authapi' }),
  });
  return app;
}
