/**
 * The HTTP API of Prosody's mod_auth_http (prosody-modules, mod_auth_http README), served
 * from the accounts engine:
 *
 *   GET  {base}/check_password?user=&server=&pass=   200 "true" | "false"        -> auth
 *   GET  {base}/user_exists?user=&server=            200 "true" | "false"        -> isuser
 *   POST {base}/register       user, server, pass    201 created | 409 exists    -> tryregister
 *   POST {base}/set_password   user, server, pass    204 | 403 refused           -> setpass
 *   POST {base}/remove_user    user, server          204 | 404 no such user      -> removeuser
 *
 * Each of the last three that succeeds also revokes the user's OAuth grants, tokens and
 * sessions (oauth/lifecycle.ts); when that fails the answer is 503, never the success.
 * 501 for a command the script does not implement, 503 when the engine cannot answer, 400
 * for input that cannot be sent safely (a password with a newline is refused, never
 * forwarded), 429 when the user is throttled. A non-2xx answer is "no" to Prosody.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts } from '../accounts/accounts.js';
import { AccountsError } from '../accounts/errors.js';
import { ExtauthError } from '../extauth/errors.js';
import type { Command } from '../extauth/query.js';
import type { Logger } from '../log/logger.js';
import { basicChecker } from './basic.js';
import { paramsOf } from '../http/form.js';
import { identityOf } from '../identity/username.js';

export interface AuthApiOptions {
  readonly accounts: Pick<Accounts, 'query'>;
  /** "user:password" required as HTTP Basic, or null. */
  readonly credentials: string | null;
  readonly logger: Logger;
}

type Params = { user: string; server: string; pass?: string };

class BadRequest extends Error {
  readonly statusCode = 400;
}

/**
 * Read user, server (and pass) from the query (GET) or the form body (POST), both decoded by
 * the one form decoder (http/form.ts): an invalid percent-escape, invalid UTF-8 or a repeated
 * parameter is a 400 on either path, and nothing undecoded reaches the script.
 */
function readParams(req: FastifyRequest, withPassword: boolean): Params {
  const source = paramsOf(req);
  const get = (name: string): string => {
    const v = source[name];
    if (v === undefined) throw new BadRequest(`missing parameter "${name}"`);
    return v;
  };
  const params: Params = { user: get('user'), server: get('server') };
  if (withPassword) params.pass = get('pass');
  return params;
}

export async function authApi(app: FastifyInstance, options: AuthApiOptions): Promise<void> {
  const { accounts, logger: log } = options;
  const checkBasic = basicChecker(options.credentials);
  if (checkBasic !== null) {
    app.addHook('onRequest', async (req, reply) => {
      if (!checkBasic(req.headers.authorization)) {
        log.warn({ address: req.ip, url: req.routeOptions.url }, 'auth API call refused: bad or missing credentials');
        return reply.code(401).header('www-authenticate', 'Basic realm="gatehouse"').type('text/plain').send('unauthorized');
      }
      return undefined;
    });
  }

  /** Run one command; `ok`/`no` turn its answer into a response, errors map to statuses. */
  const handle = (command: Command, withPassword: boolean, ok: (reply: FastifyReply) => unknown, no: (reply: FastifyReply) => unknown) =>
    async (req: FastifyRequest, reply: FastifyReply): Promise<unknown> => {
      const p = readParams(req, withPassword);
      const q = withPassword
        ? { command, user: p.user, host: p.server, password: p.pass! }
        : { command, user: p.user, host: p.server };
      try {
        const yes = await accounts.query(q);
        if (!yes && command === 'auth') log.info({ user: identityOf(p.user), host: p.server }, 'check_password refused: wrong credentials');
        return yes ? ok(reply) : no(reply);
      } catch (err) {
        return fail(reply, err, command, p);
      }
    };

  const fail = (reply: FastifyReply, err: unknown, command: Command, p: Params): unknown => {
    const fields = { command, user: identityOf(p.user), host: p.server };
    const text = (status: number, body: string) => reply.code(status).type('text/plain; charset=utf-8').send(body);
    if (err instanceof ExtauthError) {
      if (err.code === 'ERR_EXTAUTH_INVALID_INPUT') {
        log.info({ ...fields, field: err.field }, `auth API refused invalid input: ${err.message}`);
        return text(400, err.message);
      }
      if (err.code === 'ERR_EXTAUTH_UNSUPPORTED') return text(501, err.message);
      log.warn({ ...fields, code: err.code }, `auth API: engine error: ${err.message}`);
      return reply.header('retry-after', '1').code(503).type('text/plain; charset=utf-8').send('temporarily unavailable');
    }
    if (err instanceof AccountsError) {
      if (err.code === 'ERR_AUTH_THROTTLED') {
        log.warn(fields, 'auth API refused: too many failures');
        return reply.header('retry-after', String(Math.ceil(err.retryAfterMs / 1000))).code(429).type('text/plain; charset=utf-8').send(err.message);
      }
      // The account changed but its grants could not be revoked (logged by accounts.ts): a
      // temporary failure, never the success Prosody would read as "done".
      if (err.code === 'ERR_AUTH_LIFECYCLE') return reply.header('retry-after', '1').code(503).type('text/plain; charset=utf-8').send('temporarily unavailable');
      return text(404, err.message);
    }
    throw err;
  };

  const trueBody = (reply: FastifyReply) => reply.type('text/plain; charset=utf-8').send('true');
  const falseBody = (reply: FastifyReply) => reply.type('text/plain; charset=utf-8').send('false');

  app.get('/check_password', handle('auth', true, trueBody, falseBody));
  app.get('/user_exists', handle('isuser', false, trueBody, falseBody));
  app.post('/register', handle('tryregister', true, (r) => r.code(201).send(), (r) => r.code(409).type('text/plain').send('user exists or was refused')));
  app.post('/set_password', handle('setpass', true, (r) => r.code(204).send(), (r) => r.code(403).type('text/plain').send('refused by the auth script')));
  app.post('/remove_user', handle('removeuser', false, (r) => r.code(204).send(), (r) => r.code(404).type('text/plain').send('no such user or refused')));
}
