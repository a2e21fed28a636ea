/** What every OAuth endpoint of a host works with. */
import type { Accounts } from '../accounts/accounts.js';
import type { RateLimiter } from '../http/ratelimit.js';
import type { Logger } from '../log/logger.js';
import type { OAuthStore } from '../storage/port.js';
import type { OAuthHost } from './host.js';
import type { Templates } from './views/render.js';

export interface OAuthContext {
  readonly host: OAuthHost;
  readonly store: OAuthStore;
  readonly accounts: Pick<Accounts, 'query'>;
  readonly templates: Templates;
  readonly log: Logger;
  readonly limits: {
    /** Registrations per client address per minute. */
    readonly registration: RateLimiter;
    /** Token, introspection and revocation requests per client address per minute. */
    readonly token: RateLimiter;
  };
}
