/**
 * The account page's routes, registered by plugin.ts under the host's issuer:
 *   GET  /account           the page (or its sign-in form)        show.ts
 *   POST /account/login     sign in                               login.ts
 *   POST /account/revoke    revoke one grant                      revoke.ts
 *   POST /account/password  change the password                   password.ts
 *   POST /account/signout   clear the session cookie              signout.ts
 * In their own plugin scope, errors rendered as pages rather than the OAuth endpoints' JSON
 * (bodies: forms only, decoded by http/form.ts; anything else is a 415).
 */
import type { FastifyInstance } from 'fastify';
import type { OAuthContext } from '../context.js';
import { accountLoginEndpoint } from './login.js';
import { accountMessage } from '../pages/account.js';
import { changePasswordEndpoint } from './password.js';
import { revokeGrantEndpoint } from './revoke.js';
import { showAccountEndpoint } from './show.js';
import { signOutEndpoint } from './signout.js';

export async function accountRoutes(app: FastifyInstance, ctx: OAuthContext): Promise<void> {
  await app.register(async (scope) => {
    scope.setErrorHandler((err: Error & { statusCode?: number }, req, reply) => {
      const status = err.statusCode ?? 500;
      if (status >= 400 && status < 500) {
        // The parser's message may echo input: answer with a fixed one.
        return accountMessage(ctx, reply, status === 413 || status === 415 ? status : 400, 'Invalid request', 'The form could not be read. Go back to your account page and try again.');
      }
      ctx.log.error({ err: err.message, url: req.routeOptions.url }, 'account page failed');
      return accountMessage(ctx, reply, 500, 'Something went wrong', 'Your request could not be completed. Try again in a moment.');
    });
    scope.get('/account', showAccountEndpoint(ctx));
    scope.post('/account/login', accountLoginEndpoint(ctx));
    scope.post('/account/revoke', revokeGrantEndpoint(ctx));
    scope.post('/account/password', changePasswordEndpoint(ctx));
    scope.post('/account/signout', signOutEndpoint(ctx));
  });
}
