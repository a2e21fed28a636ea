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
import { oauthHosts } from '../oauth/host.js';
import type { OAuthContext } from '../oauth/context.js';
import { oauthRoutes, wellKnownAtRoot } from '../oauth/plugin.js';
import { Templates } from '../oauth/views/render.js';
import type { OAuthStore } from '../storage/port.js';
import { securityHeaders } from './headers.js';
import { RateLimiter } from './ratelimit.js';

export interface AppOptions {
  readonly config: GatehouseConfig;
  readonly accounts: Accounts;
  /** Needed when a host has OAuth configured (oauth2_issuer). */
  readonly store?: OAuthStore;
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

  const hosts = oauthHosts(options.config);
  if (hosts.length > 0) {
    if (options.store === undefined) throw new TypeError('OAuth hosts are configured but no store was given');
    const templates = new Templates(options.config.templateDir);
    for (const host of hosts) {
      const ctx: OAuthContext = {
        host,
        store: options.store,
        accounts: options.accounts,
        templates,
        log: log.child({ face: 'oauth', host: host.host }),
        limits: { registration: new RateLimiter(host.registrationRateLimit, 60_000), token: new RateLimiter(host.tokenRateLimit, 60_000) },
      };
      await app.register(oauthRoutes, { prefix: host.basePath, ...ctx } as never);
      wellKnownAtRoot(app, ctx);
    }
  }

  await app.register(authApi, {
    prefix: options.config.authApi.path,
    accounts: options.accounts,
    credentials: options.config.authApi.credentials,
    logger: log.child({ face: 'authapi' }),
  });
  return app;
}
