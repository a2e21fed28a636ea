/**
 * The HTTP face: the application factory, separate from listening (fastify's testing guide): tests
 * build it and call inject() or listen on port 0.
 *
 * Hardened defaults: a small body limit, prototype-poisoning payloads rejected, Ajv without
 * type coercion or removal of extra properties (a server should refuse bad input, not fix
 * it), fastify's own request logging off because query strings may carry passwords. Query
 * strings and bodies go through one strict decoder (form.ts); a route sees only its results.
 *
 * Operation: one log line per request (request id, method, route pattern, status, duration:
 * never the URL, query, body or headers, where passwords and tokens live), Prometheus
 * metrics on /metrics, liveness on /healthz, readiness on /readyz.
 */
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import Fastify, { type FastifyInstance } from 'fastify';
import type { Accounts } from '../accounts/accounts.js';
import { authApi } from '../authapi/routes.js';
import type { GatehouseConfig } from '../config/types.js';
import type { Logger } from '../log/logger.js';
import { silentLogger } from '../log/logger.js';
import type { OAuthHost } from '../oauth/host.js';
import type { OAuthContext } from '../oauth/context.js';
import { instrumentEngines, namedEngines } from '../metrics/extauth.js';
import { httpMetrics, methodLabel, UNMATCHED_ROUTE } from '../metrics/http.js';
import { readinessCheck } from '../metrics/readiness.js';
import { createRegistry, type Registry } from '../metrics/registry.js';
import type { OAuthStore } from '../storage/port.js';
import { crossOriginMarker } from '../http/cors.js';
import { correctFormType, formParsers, parseQueryString } from '../http/form.js';
import { setSecurityHeaders } from '../http/headers.js';
import { RateLimiter } from '../http/ratelimit.js';

export interface AppOptions {
  readonly config: GatehouseConfig;
  readonly accounts: Accounts;
  /** The hosts that serve OAuth, as services.ts built them (oauthHosts of the config). */
  readonly hosts: readonly OAuthHost[];
  /** Needed when a host serves OAuth. */
  readonly store?: OAuthStore | undefined;
  readonly logger?: Logger;
  /**
   * The Prometheus registry to fill and serve on /metrics; default: a fresh one per app with
   * the process metrics (never prom-client's global registry).
   */
  readonly metrics?: Registry;
}

/** An incoming request id is echoed only when it is this harmless. */
const REQUEST_ID = /^[A-Za-z0-9._-]{1,64}$/;

function requestId(req: IncomingMessage): string {
  const given = req.headers['x-request-id'];
  return typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
}

export async function buildApp(options: AppOptions): Promise<FastifyInstance> {
  const log = options.logger ?? silentLogger;
  const app = Fastify({
    logger: false,
    bodyLimit: 16 * 1024,
    onProtoPoisoning: 'error',
    onConstructorPoisoning: 'error',
    return503OnClosing: true,
    requestIdHeader: false,
    genReqId: requestId,
    // Only the configured proxies' X-Forwarded-For is believed (req.ip feeds throttling).
    ...(options.config.http.trustedProxies.length > 0 ? { trustProxy: [...options.config.http.trustedProxies] } : {}),
    ajv: { customOptions: { coerceTypes: false, removeAdditional: false, allErrors: false } },
    // One decoder for query strings and form bodies (form.ts): strict percent-escapes and
    // UTF-8, no repeated parameter, strings only.
    routerOptions: { querystringParser: parseQueryString as (text: string) => Record<string, unknown> },
  });
  // Form bodies only, on every route (registration alone takes JSON, in its own context): any
  // other type is a 415 before a handler runs.
  formParsers(app);
  // One synchronous root hook, no promise, for what every request needs before its route runs
  // (the body is read after it, so the form type is corrected in time).
  const markCrossOrigin = crossOriginMarker(app);
  app.addHook('onRequest', (req, reply, done) => {
    setSecurityHeaders(req, reply);
    markCrossOrigin(req, reply);
    correctFormType(req.raw);
    done();
  });

  const registry = options.metrics ?? createRegistry();
  instrumentEngines(registry, options.accounts);
  const http = httpMetrics(registry);
  const requestLog = log.child({ face: 'http' });
  // Root-level hook (every route and the 404 handler), synchronous, no promise per request.
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url ?? UNMATCHED_ROUTE;
    const method = methodLabel(req.method);
    const ms = reply.elapsedTime;
    http.observe(route, method, reply.statusCode, ms / 1000);
    requestLog.info({ reqId: req.id, method, route, status: reply.statusCode, durationMs: Math.round(ms * 1000) / 1000 }, 'request');
    done();
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
    if (status === 500) log.error({ err: err.message, code: err.code, url: req.routeOptions.url, reqId: req.id }, 'request failed');
    // Client errors say what was wrong; server errors say nothing of the internals.
    void reply.code(status).type('text/plain; charset=utf-8').send(status === 500 ? 'internal error' : err.message);
  });
  app.setNotFoundHandler((_req, reply) => {
    void reply.code(404).type('text/plain; charset=utf-8').send('not found');
  });

  app.get('/healthz', async () => ({ status: 'ok' }));
  const readiness = readinessCheck({ engines: () => namedEngines(options.accounts), store: options.store, logger: log.child({ face: 'readyz' }) });
  app.get('/readyz', async (_req, reply) => {
    const { ready, failing } = await readiness();
    if (ready) return { status: 'ready' };
    return reply.code(503).send({ status: 'not ready', failing });
  });
  app.get('/metrics', async (_req, reply) => {
    const body = await registry.metrics();
    return reply.type(registry.contentType).send(body);
  });

  const hosts = options.hosts;
  if (hosts.length > 0) {
    if (options.store === undefined) throw new TypeError('OAuth hosts are configured but no store was given');
    // Loaded only when a host serves OAuth: an auth-API or extauth-socket service does
    // without the OAuth code and its dependencies (less memory, a faster start).
    const [{ oauthRoutes, wellKnownAtRoot }, { Templates }] = await Promise.all([import('../oauth/plugin.js'), import('../oauth/views/render.js')]);
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
