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
import { classify, errorCode, messageOf, type FailureClass } from '../accounts/outcome.js';
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

/** What a failed AUTH answers, and how it is logged. */
interface Refusal {
  /** The `temp` flag of FAIL: the client may retry (Postfix answers 454 4.7.0, not 535 5.7.8). */
  readonly temporary: boolean;
  /** The `reason=` shown to the client. */
  readonly reason: string;
  readonly level: 'info' | 'warn';
  readonly log: string;
}

/**
 * The FAIL for each failure class (accounts/outcome.ts). Dovecot's auth protocol has two kinds
 * of FAIL: a plain one, "these credentials are not accepted", and one with `temp`, "the answer is
 * unknown, try again later". Only a failure that may clear by itself gets `temp`: a wrong
 * password, input that cannot be sent, or a command this host cannot run never will.
 */
const REFUSALS: Readonly<Record<FailureClass, Refusal>> = {
  wrong: { temporary: false, reason: 'Authentication failed', level: 'info', log: 'dovecot auth refused: wrong credentials' },
  invalid: { temporary: false, reason: 'Authentication failed', level: 'info', log: 'dovecot auth refused: invalid input' },
  // No script for the host (every configuration allows `auth`): permanent until reconfigured.
  unsupported: { temporary: false, reason: 'Authentication failed', level: 'info', log: 'dovecot auth refused: no auth script for this host or command' },
  // The same attempt may pass later: `temp`, so the client does not count it as a wrong password.
  throttled: { temporary: true, reason: 'Too many failed attempts; try again later', level: 'warn', log: 'dovecot auth refused: too many failures' },
  temporary: { temporary: true, reason: 'Temporary authentication failure', level: 'warn', log: 'dovecot auth failed temporarily' },
  internal: { temporary: true, reason: 'Temporary authentication failure', level: 'warn', log: 'dovecot auth failed temporarily' },
};

/** Map the engine's answer to the protocol's: an error is never OK (REFUSALS above). */
export function authenticator(accounts: Pick<Accounts, 'query'>, defaultHost: string, log: Logger, hosts: readonly string[] = [defaultHost]): Authenticate {
  const served = new Set(hosts.map((h) => h.toLowerCase()));
  const refuse = (cls: FailureClass, fields: Record<string, unknown>, err?: unknown): Verdict => {
    const r = REFUSALS[cls];
    log[r.level](err === undefined ? fields : { ...fields, code: errorCode(err), detail: messageOf(err) }, r.log);
    return { ok: false, temporary: r.temporary, reason: r.reason };
  };
  return async (username, password, ctx): Promise<Verdict> => {
    const { user, host } = splitUsername(username, defaultHost);
    const fields = { user: identityOf(user), host, address: ctx.address, service: ctx.service };
    if (!served.has(host.toLowerCase())) {
      log.warn(fields, 'dovecot auth refused: host not served by this listener');
      return { ok: false, temporary: REFUSALS.wrong.temporary, reason: REFUSALS.wrong.reason };
    }
    try {
      if (await accounts.query({ command: 'auth', user, host, password }, { address: ctx.address })) {
        // `user=` echoes the name exactly as the client sent it: Prosody's mod_auth_dovecot
        // compares it with what it sent (and takes it as the identity), Postfix logs it.
        return { ok: true, user: username };
      }
      return refuse('wrong', fields);
    } catch (err) {
      return refuse(classify(err), fields, err);
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
