/**
 * The queries the probes send. Every one goes through the engine's own validation, so the
 * checker never sends what Gatehouse would refuse to send (DESIGN.md rule 2): no CR, LF or NUL,
 * no `:` in names, nothing over the query limit. The one exception is the unknown command,
 * which by definition is not a Query.
 *
 * Only `auth`, `isuser` and one unknown command are ever sent: never setpass, tryregister or
 * removeuser, so checking a script against real accounts changes nothing.
 */
import { randomBytes } from 'node:crypto';
import { encodeQuery, validateQuery, type Query, type QueryLimits } from '../extauth/query.js';

export interface ProbeQuery {
  /** The query's bytes, unframed. */
  readonly bytes: Buffer;
  /** Its password, redacted from anything shown. */
  readonly password?: string | undefined;
  /** What it is, for messages ("auth of an unknown user"). */
  readonly what: string;
}

/** A user name no real account has. */
export function randomUser(): string {
  return `nobody-${randomBytes(6).toString('hex')}`;
}

/** A password nobody has: 128 random bits. */
export function randomPassword(): string {
  return randomBytes(16).toString('base64url');
}

/** A validated query; throws ExtauthError (invalid input) when the engine would refuse it. */
export function query(q: Query, limits: QueryLimits, what: string): ProbeQuery {
  validateQuery(q, limits);
  return { bytes: encodeQuery(q), password: q.password, what };
}

export function auth(user: string, host: string, password: string, limits: QueryLimits, what: string): ProbeQuery {
  return query({ command: 'auth', user, host, password }, limits, what);
}

export function isuser(user: string, host: string, limits: QueryLimits, what: string): ProbeQuery {
  return query({ command: 'isuser', user, host }, limits, what);
}

/** A command no protocol defines, shaped like a password-carrying query. */
export function unknownCommand(user: string, host: string, password: string): ProbeQuery {
  return {
    bytes: Buffer.from(`frobnicate:${user}:${host}:${password}`, 'utf8'),
    password,
    what: 'the unknown command "frobnicate"',
  };
}
