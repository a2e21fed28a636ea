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
 * Failures answer by class (accounts/outcome.ts, FAILURE_ANSWERS below): 501 for a command
 * the script does not implement or a host without a script, 503 when the engine or the store
 * cannot answer, 400 for input that cannot be sent safely (a password with a newline is
 * refused, never forwarded), 429 when the user is throttled. A non-2xx answer is "no" to
 * Prosody.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Accounts } from '../accounts/accounts.js';
import { classify, errorCode, messageOf, retryAfterMs, type FailureClass } from '../accounts/outcome.js';
import type { ExtauthError } from '../extauth/errors.js';
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

interface Answer {
  readonly status: number;
  readonly body: string;
  /** Retry-After, seconds (RFC 9110 §10.2.3). */
  readonly retryAfter?: string;
}

const UNAVAILABLE: Answer = { status: 503, body: 'temporarily unavailable', retryAfter: '1' };

/**
 * The answer to each failure class (accounts/outcome.ts). mod_auth_http reads any non-2xx as
 * "no", so the statuses are for the operator: each says why, and none can be read as a yes.
 * null is the route's own "no" (false, 409, 403 or 404).
 */
const FAILURE_ANSWERS: Readonly<Record<FailureClass, (err: unknown) => Answer | null>> = {
  wrong: () => null,
  // The input was refused before the script (a newline in a password is never forwarded).
  invalid: (err) => ({ status: 400, body: messageOf(err) }),
  // RFC 6585 §4: 429 with the time until the user may try again.
  throttled: (err) => ({ status: 429, body: messageOf(err), retryAfter: String(Math.ceil(retryAfterMs(err) / 1000)) }),
  // RFC 9110 §15.6.2: 501, the server does not support the functionality (no script for the
  // host, or the command is not in external_auth_commands).
  unsupported: (err) => ({ status: 501, body: messageOf(err) }),
  // RFC 9110 §15.6.4: 503 for a condition likely to clear; also an account changed whose grants
  // could not be revoked (never the success Prosody would read as "done").
  temporary: () => UNAVAILABLE,
  // What the app's error handler answers for a fault: nothing of the internals, no Retry-After.
  internal: () => ({ status: 500, body: 'internal error' }),
};

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
        return fail(reply, err, command, p, no);
      }
    };

  const fail = (reply: FastifyReply, err: unknown, command: Command, p: Params, no: (reply: FastifyReply) => unknown): unknown => {
    const fields = { command, user: identityOf(p.user), host: p.server, code: errorCode(err) };
    const cls = classify(err);
    const answer = FAILURE_ANSWERS[cls](err);
    if (answer === null) return no(reply);
    if (cls === 'invalid') log.info({ ...fields, field: (err as ExtauthError).field }, `auth API refused invalid input: ${messageOf(err)}`);
    else if (cls === 'throttled') log.warn(fields, 'auth API refused: too many failures');
    else if (cls === 'temporary') log.warn(fields, `auth API: no answer: ${messageOf(err)}`);
    else if (cls === 'internal') log.error(fields, `auth API: no answer: ${messageOf(err)}`);
    if (answer.retryAfter !== undefined) reply.header('retry-after', answer.retryAfter);
    return reply.code(answer.status).type('text/plain; charset=utf-8').send(answer.body);
  };

  const trueBody = (reply: FastifyReply) => reply.type('text/plain; charset=utf-8').send('true');
  const falseBody = (reply: FastifyReply) => reply.type('text/plain; charset=utf-8').send('false');

  app.get('/check_password', handle('auth', true, trueBody, falseBody));
  app.get('/user_exists', handle('isuser', false, trueBody, falseBody));
  app.post('/register', handle('tryregister', true, (r) => r.code(201).send(), (r) => r.code(409).type('text/plain').send('user exists or was refused')));
  app.post('/set_password', handle('setpass', true, (r) => r.code(204).send(), (r) => r.code(403).type('text/plain').send('refused by the auth script')));
  app.post('/remove_user', handle('removeuser', false, (r) => r.code(204).send(), (r) => r.code(404).type('text/plain').send('no such user or refused')));
}
