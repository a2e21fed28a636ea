/**
 * Queries: the six commands, their validation and their text form `cmd:user:host[:password]`.
 *
 * Validation happens before a single byte reaches a script (DESIGN.md rule 2). This is what
 * makes newline injection impossible: Prosody's mod_auth_external_insecure wrote a password
 * containing `\n` verbatim, so `x\nsetpass:admin:host:owned` became a second command.
 */
import { ExtauthError } from './errors.js';

export const COMMANDS = ['auth', 'isuser', 'setpass', 'tryregister', 'removeuser', 'removeuser3'] as const;
export type Command = (typeof COMMANDS)[number];

/** Commands whose query carries a password. */
const TAKES_PASSWORD: Readonly<Record<Command, boolean>> = Object.freeze({
  __proto__: null,
  auth: true,
  isuser: false,
  setpass: true,
  tryregister: true,
  removeuser: false,
  removeuser3: true,
} as Record<Command, boolean>);

export function isCommand(value: string): value is Command {
  return Object.hasOwn(TAKES_PASSWORD, value);
}

export function takesPassword(command: Command): boolean {
  return TAKES_PASSWORD[command];
}

export interface Query {
  readonly command: Command;
  readonly user: string;
  readonly host: string;
  /** Present exactly when the command takes a password. */
  readonly password?: string;
}

export interface QueryLimits {
  /** Longest user or host, in UTF-8 bytes (XMPP caps each JID part at 1023 bytes, RFC 7622 §3.1). */
  readonly maxFieldBytes: number;
  /** Longest whole query, in UTF-8 bytes, without framing. */
  readonly maxQueryBytes: number;
}

export const DEFAULT_QUERY_LIMITS: QueryLimits = Object.freeze({ maxFieldBytes: 1023, maxQueryBytes: 4096 });

// `:` separates fields; CR and LF end a line in the generic protocol; NUL was cut by ptys.
const BAD_NAME_CHAR = /[:\r\n\0]/;
const BAD_PASSWORD_CHAR = /[\r\n\0]/;

function invalid(field: 'command' | 'user' | 'host' | 'password' | 'query', message: string): ExtauthError {
  return new ExtauthError('ERR_EXTAUTH_INVALID_INPUT', message, { field });
}

/** UTF-8 length, computed only when the string could be over `limit` (at most 3 bytes a UTF-16 unit). */
function overBytes(value: string, limit: number): boolean {
  return value.length * 3 > limit && Buffer.byteLength(value, 'utf8') > limit;
}

function checkName(field: 'user' | 'host', value: unknown, limits: QueryLimits): void {
  if (typeof value !== 'string') throw new TypeError(`${field} must be a string`);
  if (value.length === 0) throw invalid(field, `${field} is empty`);
  if (BAD_NAME_CHAR.test(value)) throw invalid(field, `${field} contains ':', CR, LF or NUL`);
  if (!value.isWellFormed()) throw invalid(field, `${field} is not well-formed Unicode`);
  if (overBytes(value, limits.maxFieldBytes)) {
    throw invalid(field, `${field} is longer than ${limits.maxFieldBytes} bytes`);
  }
}

/**
 * Throws ERR_EXTAUTH_INVALID_INPUT (with `field`) when the query cannot be sent safely.
 * Programming mistakes (wrong types, unknown command) are TypeErrors. Returns the query's
 * text (queryText), which the check of its length has built anyway.
 */
export function validateQuery(query: Query, limits: QueryLimits = DEFAULT_QUERY_LIMITS): string {
  if (!isCommand(query.command)) throw invalid('command', 'unknown command');
  checkName('user', query.user, limits);
  checkName('host', query.host, limits);
  if (TAKES_PASSWORD[query.command]) {
    const { password } = query;
    if (typeof password !== 'string') throw new TypeError(`${query.command} needs a password string`);
    if (BAD_PASSWORD_CHAR.test(password)) throw invalid('password', 'password contains CR, LF or NUL');
    if (!password.isWellFormed()) throw invalid('password', 'password is not well-formed Unicode');
  } else if (query.password !== undefined) {
    throw new TypeError(`${query.command} takes no password`);
  }
  const text = queryText(query);
  if (overBytes(text, limits.maxQueryBytes)) {
    throw invalid('query', `query is longer than ${limits.maxQueryBytes} bytes`);
  }
  return text;
}

/** The query's text `cmd:user:host[:password]`, without framing. Call validateQuery first. */
export function queryText(q: Query): string {
  return q.password === undefined
    ? `${q.command}:${q.user}:${q.host}`
    : `${q.command}:${q.user}:${q.host}:${q.password}`;
}

/** The query's bytes, without framing. Call validateQuery first. */
export function encodeQuery(q: Query): Buffer {
  return Buffer.from(queryText(q), 'utf8');
}

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Parse a query received by the bridge. The password is everything after the third `:`, so
 * it may itself contain colons. Returns an ExtauthError (not thrown) for anything malformed.
 */
export function parseQuery(bytes: Buffer, limits: QueryLimits = DEFAULT_QUERY_LIMITS): Query | ExtauthError {
  let text: string;
  try {
    text = utf8.decode(bytes);
  } catch {
    return invalid('query', 'query is not well-formed UTF-8');
  }
  const c1 = text.indexOf(':');
  if (c1 === -1) return invalid('query', 'query has no fields');
  const command = text.slice(0, c1);
  if (!isCommand(command)) {
    return new ExtauthError('ERR_EXTAUTH_UNSUPPORTED', 'unknown command', { field: 'command' });
  }
  const c2 = text.indexOf(':', c1 + 1);
  if (c2 === -1) return invalid('query', 'query has too few fields');
  const user = text.slice(c1 + 1, c2);
  let query: Query;
  if (TAKES_PASSWORD[command]) {
    const c3 = text.indexOf(':', c2 + 1);
    if (c3 === -1) return invalid('query', 'query has too few fields');
    query = { command, user, host: text.slice(c2 + 1, c3), password: text.slice(c3 + 1) };
  } else {
    query = { command, user, host: text.slice(c2 + 1) };
  }
  try {
    validateQuery(query, limits);
  } catch (err) {
    if (err instanceof ExtauthError) return err;
    throw err;
  }
  return query;
}
