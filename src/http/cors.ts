/**
 * Cross-origin access (the Fetch standard's CORS protocol) for the endpoints a browser
 * application on another origin calls directly: discovery, JWKS, registration, token,
 * revocation, userinfo, device authorization. A web XMPP client (Converse.js, Movim) served
 * from its own origin is a public client that does exactly this.
 *
 * Any origin is allowed (`*`) and credentials never are: these endpoints authenticate with
 * what the request carries (client credentials, PKCE verifier, bearer token), never with a
 * cookie, so a page on another origin gains nothing it could not do from its own server.
 * The cookie-based pages (authorize, login, consent, account) get no CORS headers at all, and
 * introspection neither: it is for resource servers, not browsers.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';

/** Request headers a cross-origin caller may send (preflight). */
const ALLOW_HEADERS = 'authorization, content-type';
/** Response headers a cross-origin caller may read besides the CORS-safelisted ones. */
const EXPOSE_HEADERS = 'www-authenticate, retry-after, x-request-id';
/** How long a browser may cache a preflight answer, seconds. */
const MAX_AGE_S = '600';

/**
 * Let browsers on any origin call `path` (as registered in `app`, before its prefix) with
 * `methods`: answers the preflight, and marks the actual responses.
 */
export function allowCrossOrigin(app: FastifyInstance, path: string, methods: readonly ('GET' | 'POST')[]): void {
  const allowMethods = [...methods, 'OPTIONS'].join(', ');
  app.options(path, async (_req, reply) =>
    reply
      .code(204)
      .header('access-control-allow-origin', '*')
      .header('access-control-allow-methods', allowMethods)
      .header('access-control-allow-headers', ALLOW_HEADERS)
      .header('access-control-max-age', MAX_AGE_S)
      .send(),
  );
  crossOriginRoutes(app).add(`${app.prefix}${path}`);
}

const ROUTES = new WeakMap<object, Set<string>>();

/** The set of cross-origin route patterns of the root app `app` belongs to. */
function crossOriginRoutes(app: FastifyInstance): Set<string> {
  // Every encapsulated context shares the root server object.
  const key = app.server;
  let set = ROUTES.get(key);
  if (set === undefined) {
    set = new Set();
    ROUTES.set(key, set);
  }
  return set;
}

/**
 * For the root app's request hook (app.ts): responses of cross-origin routes carry the CORS
 * headers (errors included, so a browser application can read why a token request failed).
 */
export function crossOriginMarker(app: FastifyInstance): (req: FastifyRequest, reply: FastifyReply) => void {
  const routes = crossOriginRoutes(app);
  return (req, reply) => {
    const route = req.routeOptions.url;
    if (route !== undefined && req.method !== 'OPTIONS' && routes.has(route)) {
      reply.header('access-control-allow-origin', '*');
      reply.header('access-control-expose-headers', EXPOSE_HEADERS);
    }
  };
}
