/**
 * The Dovecot authentication service: listens on a Unix socket and/or loopback TCP and
 * answers each connection's AUTH requests from the accounts engine, so that Postfix
 * (`smtpd_sasl_type = dovecot`), Exim and Prosody's mod_auth_dovecot authenticate through
 * Gatehouse. A username `user@host` names its host; a bare `user` gets the default host.
 *
 * A listener serves only the hosts it is given (`dovecot_hosts`, default the default host
 * alone): behind Prosody's mod_auth_dovecot for `dove.local`, the username
 * `alice@other.local` would otherwise be checked as alice at other.local and logged in as
 * `alice\40other.local@dove.local`. A username naming another host is a plain FAIL, and
 * the script is never asked.
 */
import type { Accounts } from '../accounts/accounts.js';
import { AccountsError } from '../accounts/errors.js';
import { ExtauthError } from '../extauth/errors.js';
import { identityOf } from '../identity/username.js';
import type { Logger } from '../log/logger.js';
import { StreamListeners, type ListenOptions } from '../net/listen.js';
import { silentLogger } from '../log/logger.js';
import { DovecotConnection, type Authenticate, type Verdict } from './connection.js';

export interface DovecotServerOptions {
  readonly accounts: Pick<Accounts, 'query'>;
  /** Host for usernames without `@host`. */
  readonly defaultHost: string;
  /** Hosts served (default: `defaultHost` only); any other named host is refused. */
  readonly hosts?: readonly string[];
  readonly logger?: Logger;
  /** Connections served at once; more are closed at once. */
  readonly maxConnections?: number;
}

/** Split `user@host` at the last `@`; a bare user gets `defaultHost`. Hosts compare lowercase. */
export function splitUsername(username: string, defaultHost: string): { user: string; host: string } {
  const at = username.lastIndexOf('@');
  if (at <= 0) return { user: username, host: defaultHost };
  return { user: username.slice(0, at), host: username.slice(at + 1).toLowerCase() };
}

/** Map the engine's answer to the protocol's: an error is a temporary failure, never OK. */
export function authenticator(accounts: Pick<Accounts, 'query'>, defaultHost: string, log: Logger, hosts: readonly string[] = [defaultHost]): Authenticate {
  const served = new Set(hosts.map((h) => h.toLowerCase()));
  return async (username, password, ctx): Promise<Verdict> => {
    const { user, host } = splitUsername(username, defaultHost);
    const fields = { user: identityOf(user), host, address: ctx.address, service: ctx.service };
    if (!served.has(host.toLowerCase())) {
      log.warn(fields, 'dovecot auth refused: host not served by this listener');
      return { ok: false, temporary: false, reason: 'Authentication failed' };
    }
    try {
      if (await accounts.query({ command: 'auth', user, host, password }, { address: ctx.address })) {
        // `user=` echoes the name exactly as the client sent it: Prosody's mod_auth_dovecot
        // compares it with what it sent (and takes it as the identity), Postfix logs it.
        return { ok: true, user: username };
      }
      log.info(fields, 'dovecot auth refused: wrong credentials');
      return { ok: false, temporary: false, reason: 'Authentication failed' };
    } catch (err) {
      if (err instanceof ExtauthError && err.code === 'ERR_EXTAUTH_INVALID_INPUT') {
        log.info({ ...fields, detail: err.message }, 'dovecot auth refused: invalid input');
        return { ok: false, temporary: false, reason: 'Authentication failed' };
      }
      if (err instanceof AccountsError && err.code === 'ERR_AUTH_NOT_CONFIGURED') {
        log.info(fields, 'dovecot auth refused: no auth script for this host');
        return { ok: false, temporary: false, reason: 'Authentication failed' };
      }
      if (err instanceof AccountsError && err.code === 'ERR_AUTH_THROTTLED') {
        log.warn(fields, 'dovecot auth refused: too many failures');
        return { ok: false, temporary: true, reason: 'Too many failed attempts; try again later' };
      }
      log.warn({ ...fields, code: (err as { code?: string }).code }, `dovecot auth failed temporarily: ${(err as Error).message}`);
      return { ok: false, temporary: true, reason: 'Temporary authentication failure' };
    }
  };
}

export class DovecotAuthServer {
  readonly #listeners: StreamListeners;
  readonly #authenticate: Authenticate;
  readonly #log: Logger;
  #cuid = 0;

  constructor(options: DovecotServerOptions) {
    this.#log = options.logger ?? silentLogger;
    this.#authenticate = authenticator(options.accounts, options.defaultHost, this.#log, options.hosts);
    const max = options.maxConnections ?? 1000;
    this.#listeners = new StreamListeners({
      maxConnections: max,
      onRefused: () => this.#log.warn({ max }, 'dovecot connection refused: too many connections'),
      serve: (socket) => new DovecotConnection(socket, { authenticate: this.#authenticate, logger: this.#log, cuid: ++this.#cuid }),
    });
  }

  /** Start listening; resolves with the bound TCP port (if any). */
  listen(options: ListenOptions): Promise<{ port?: number }> {
    return this.#listeners.listen(options);
  }

  /** Stop accepting, close every connection. */
  close(): Promise<void> {
    return this.#listeners.close();
  }
}
