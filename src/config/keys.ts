/**
 * Every configuration key: its name (Prosody's, so lines can be copied from a Prosody config),
 * its ejabberd aliases, where it may appear, its default and how it is checked. This table is
 * the configuration reference; the README's table is generated from the same facts.
 */
import { DEFAULT_QUERY_LIMITS } from '../extauth/query.js';
import { LOG_LEVELS, type LogLevel } from '../log/logger.js';
import { splitCommand } from './argv.js';

export type Scope = 'global' | 'host';

/** Records a problem and returns undefined, or returns the checked value. */
export type Check<T> = (value: unknown, key: string, problems: string[]) => T | undefined;

export interface KeyDef<T = unknown> {
  readonly name: string;
  readonly aliases?: readonly string[];
  /** 'host': allowed globally and in `[hosts."name"]` tables; 'global': top level only. */
  readonly scope: Scope;
  readonly default: T;
  readonly check: Check<T>;
  /** One line for the README's configuration table (scripts/config-table.mjs writes it). */
  readonly doc: string;
  /** How the default reads in that table, when the value alone does not say it. */
  readonly shown?: string;
}

function show(value: unknown): string {
  const s = JSON.stringify(value);
  return s === undefined ? String(value) : s.length > 60 ? `${s.slice(0, 57)}...` : s;
}

export function number(opts: { min?: number; max?: number; integer?: boolean; unit?: string }): Check<number> {
  return (v, key, problems) => {
    const n = typeof v === 'bigint' ? Number(v) : v;
    const what = opts.integer ? 'an integer' : 'a number';
    const range =
      opts.min !== undefined && opts.max !== undefined
        ? ` from ${opts.min} to ${opts.max}`
        : opts.min !== undefined
          ? ` of at least ${opts.min}`
          : '';
    if (
      typeof n !== 'number' ||
      !Number.isFinite(n) ||
      (opts.integer && !Number.isInteger(n)) ||
      (opts.min !== undefined && n < opts.min) ||
      (opts.max !== undefined && n > opts.max)
    ) {
      problems.push(`${key}: expected ${what}${range}${opts.unit ? ` (${opts.unit})` : ''}, got ${show(v)}`);
      return undefined;
    }
    return n;
  };
}

export function oneOf<T extends string>(values: readonly T[]): Check<T> {
  return (v, key, problems) => {
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    problems.push(`${key}: expected one of ${values.map((x) => `"${x}"`).join(', ')}, got ${show(v)}`);
    return undefined;
  };
}

export const string: Check<string> = (v, key, problems) => {
  if (typeof v === 'string' && v.length > 0) return v;
  problems.push(`${key}: expected a non-empty string, got ${show(v)}`);
  return undefined;
};

/** A string or a list of non-empty strings, as a list. */
export function stringList(opts: { minLength?: number; what?: string } = {}): Check<readonly string[]> {
  return (v, key, problems) => {
    const list = typeof v === 'string' ? [v] : v;
    const min = opts.minLength ?? 1;
    if (
      !Array.isArray(list) ||
      list.length === 0 ||
      !list.every((x) => typeof x === 'string' && x.length >= min)
    ) {
      problems.push(
        `${key}: expected ${opts.what ?? 'a string or a non-empty list of strings'}${min > 1 ? ` of at least ${min} characters` : ''}, got ${typeof v === 'string' ? `a string of ${v.length} characters` : show(v)}`,
      );
      return undefined;
    }
    return Object.freeze([...list]);
  };
}

/** One resource-server credential of `oauth2_introspection_credentials`. */
export interface IntrospectionCredential {
  readonly name: string;
  readonly secret: string;
  /** The scope a token must carry to be active for this caller; null: any. */
  readonly scope: string | null;
}

const CREDENTIAL = /^([A-Za-z0-9_-]{1,64}):([^:]{16,}?)(?::([\x21-\x7e]+))?$/;

/** `"name:secret"` or `"name:secret:scope"` entries, names unique. */
export const introspectionCredentials: Check<readonly IntrospectionCredential[]> = (v, key, problems) => {
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list)) {
    problems.push(`${key}: expected a list of "name:secret" or "name:secret:scope" strings, got ${show(v)}`);
    return undefined;
  }
  const out: IntrospectionCredential[] = [];
  const names = new Set<string>();
  for (const [i, x] of list.entries()) {
    const m = typeof x === 'string' ? CREDENTIAL.exec(x) : null;
    if (m === null) {
      // The value holds a secret: never echo it.
      problems.push(`${key}[${i}]: expected "name:secret" or "name:secret:scope" (name of letters, digits, - and _; secret of at least 16 characters without ':')`);
      return undefined;
    }
    if (names.has(m[1]!)) {
      problems.push(`${key}[${i}]: the name ${show(m[1])} appears twice`);
      return undefined;
    }
    names.add(m[1]!);
    out.push(Object.freeze({ name: m[1]!, secret: m[2]!, scope: m[3] ?? null }));
  }
  return Object.freeze(out);
};

/** RFC 8707 §2: absolute URIs without a fragment. */
export const jwtResources: Check<readonly string[]> = (v, key, problems) => {
  const list = typeof v === 'string' ? [v] : v;
  const ok = (x: unknown): boolean => {
    if (typeof x !== 'string' || x.includes('#')) return false;
    try {
      return new URL(x).protocol.length > 1;
    } catch {
      return false;
    }
  };
  if (!Array.isArray(list) || !list.every(ok)) {
    problems.push(`${key}: expected a list of absolute URIs without a fragment (RFC 8707 §2), got ${show(v)}`);
    return undefined;
  }
  return Object.freeze([...new Set(list as string[])]);
};

/** A command: a string split like a shell would (without one), or an argv array. */
export const command: Check<readonly string[] | null> = (v, key, problems) => {
  if (typeof v === 'string') {
    try {
      const argv = splitCommand(v);
      if (argv.length > 0) return Object.freeze(argv);
      problems.push(`${key}: the command is empty`);
    } catch (err) {
      problems.push(`${key}: ${(err as Error).message} in ${show(v)}`);
    }
    return undefined;
  }
  if (Array.isArray(v) && v.length > 0 && v.every((x) => typeof x === 'string') && v[0].length > 0) {
    return Object.freeze([...v]);
  }
  problems.push(`${key}: expected a command string or a non-empty array of strings, got ${show(v)}`);
  return undefined;
};

export const ports: Check<readonly number[]> = (v, key, problems) => {
  const list = typeof v === 'number' ? [v] : v;
  if (Array.isArray(list) && list.length > 0 && list.every((p) => Number.isInteger(p) && p >= 0 && p <= 65535)) {
    return Object.freeze([...list] as number[]);
  }
  problems.push(`${key}: expected a port or a list of ports (0-65535), got ${show(v)}`);
  return undefined;
};

export { LOG_LEVELS, type LogLevel };

export const KEYS: readonly KeyDef[] = [
  {
    name: 'external_auth_command',
    aliases: ['extauth_program'],
    scope: 'host',
    default: null,
    check: command,
    shown: '(required)',
    doc: 'Program to run: a string (split like a shell would, without a shell) or an argv array. Run in the directory of the config file.',
  },
  {
    name: 'external_auth_protocol',
    scope: 'host',
    default: 'generic',
    check: oneOf(['generic', 'ejabberd']),
    doc: '`"generic"` (Prosody: lines, `1`/`0`) or `"ejabberd"` (2-byte length frames).',
  },
  {
    name: 'external_auth_timeout',
    scope: 'host',
    default: 5,
    check: number({ min: 0.001, max: 3600, unit: 'seconds' }),
    doc: 'Seconds to wait for one reply; a late process is killed and replaced.',
  },
  {
    name: 'external_auth_processes',
    aliases: ['extauth_pool_size', 'extauth_instances'],
    scope: 'host',
    default: 1,
    check: number({ min: 1, max: 256, integer: true }),
    doc: 'Processes in the pool; each answers one query at a time.',
  },
  {
    name: 'external_auth_queue_limit',
    scope: 'host',
    default: 1000,
    check: number({ min: 0, max: 1_000_000, integer: true }),
    doc: 'Queries allowed to wait for a free process; past it, queries fail at once (temporary failure).',
  },
  {
    name: 'external_auth_queue_timeout',
    scope: 'host',
    default: 5,
    check: number({ min: 0.001, max: 3600, unit: 'seconds' }),
    doc: 'Seconds a query may wait for a free process.',
  },
  {
    name: 'external_auth_max_query_bytes',
    scope: 'host',
    default: DEFAULT_QUERY_LIMITS.maxQueryBytes,
    check: number({ min: 64, max: 65535, integer: true }),
    doc: "Longest query (`cmd:user:host:password`) sent to a script, in bytes (ejabberd's frame caps it at 65535).",
  },
  {
    name: 'external_auth_kill_grace',
    scope: 'host',
    default: 2,
    check: number({ min: 0, max: 60, unit: 'seconds' }),
    doc: 'Seconds between SIGTERM and SIGKILL when a process is ended.',
  },
  {
    name: 'external_auth_commands',
    scope: 'host',
    default: Object.freeze(['auth', 'isuser', 'setpass', 'tryregister', 'removeuser', 'removeuser3']),
    check: (v, key, problems) => {
      const all = ['auth', 'isuser', 'setpass', 'tryregister', 'removeuser', 'removeuser3'];
      if (Array.isArray(v) && v.every((c) => typeof c === 'string' && all.includes(c)) && v.includes('auth')) {
        return Object.freeze([...new Set(v as string[])]);
      }
      problems.push(`${key}: expected a list of commands including "auth", from ${all.map((c) => `"${c}"`).join(', ')}, got ${show(v)}`);
      return undefined;
    },
    shown: 'all six',
    doc: 'Commands the script implements; the others are refused without asking it (HTTP API: 501).',
  },
  {
    name: 'external_auth_cache_ttl',
    scope: 'host',
    default: 0,
    check: number({ min: 0, max: 86400, unit: 'seconds' }),
    doc: 'Seconds to cache a positive `auth`/`isuser` answer (0: off). Keyed by an HMAC, never the password; `setpass`/`removeuser` invalidate.',
  },
  {
    name: 'auth_failure_limit_user',
    scope: 'host',
    default: 10,
    check: number({ min: 0, max: 1_000_000, integer: true }),
    doc: 'Failed logins per user from one client address (IPv6: its /64; faces without an address count as one) within `auth_failure_window` before that address is refused unasked for the user; from all addresses together ten times this, after which only addresses without a failure may try (0: off).',
  },
  {
    name: 'auth_failure_limit_address',
    scope: 'host',
    default: 30,
    check: number({ min: 0, max: 1_000_000, integer: true }),
    doc: 'Failed logins per client address within `auth_failure_window` (0: off). Faces that know the address apply it.',
  },
  {
    name: 'auth_failure_window',
    scope: 'host',
    default: 300,
    check: number({ min: 1, max: 86400, unit: 'seconds' }),
    doc: 'Seconds over which failures are counted.',
  },
  {
    name: 'auth_failure_backoff_max',
    scope: 'host',
    default: 60,
    check: number({ min: 1, max: 86400, unit: 'seconds' }),
    doc: "On faces that do not know the client's address (the auth API, the bridge, the extauth socket), a user past `auth_failure_limit_user` waits after each failure a delay that doubles from 1 s up to this, instead of the rest of the window.",
  },
  {
    name: 'oauth2_registration_key',
    scope: 'host',
    default: null,
    check: stringList({ minLength: 16, what: 'a secret string or a list of them (the first signs, all verify)' }),
    doc: 'Secret for stateless client registration; a list rotates keys (the first signs, all verify).',
  },
  {
    name: 'oauth2_registration_ttl',
    scope: 'host',
    default: null,
    check: number({ min: 1, integer: true, unit: 'seconds' }),
    shown: 'none (forever)',
    doc: 'Seconds a registered client stays valid.',
  },
  {
    name: 'oauth2_issuer',
    scope: 'host',
    default: null,
    check: (v, key, problems) => {
      let u: URL | null = null;
      try {
        u = typeof v === 'string' ? new URL(v) : null;
      } catch {
        u = null;
      }
      if (u !== null && (u.protocol === 'https:' || u.protocol === 'http:') && !u.search && !u.hash && !v!.toString().endsWith('/')) {
        // RFC 8414 §2: the issuer uses the https scheme. Plain http only on a loopback host,
        // for development: elsewhere codes, tokens and cookies (without Secure) would cross
        // the network in the clear.
        if (u.protocol === 'https:' || isLoopbackName(u.hostname)) return v as string;
        problems.push(`${key}: must be an https URL (RFC 8414 §2); http is allowed only on a loopback host (127.0.0.1, [::1], localhost), got ${show(v)}`);
        return undefined;
      }
      problems.push(`${key}: expected an http(s) URL without query, fragment or trailing slash (RFC 8414 §2), got ${show(v)}`);
      return undefined;
    },
    doc: "The host's OAuth issuer URL; its endpoints live under it. Required for OAuth on a host. https (RFC 8414 §2); http only on a loopback host, for development.",
  },
  {
    name: 'oauth2_access_token_ttl',
    scope: 'host',
    default: 3600,
    check: number({ min: 60, max: 86400 * 30, integer: true, unit: 'seconds' }),
    doc: 'Seconds an access token is valid (Prosody default).',
  },
  {
    name: 'oauth2_refresh_token_ttl',
    scope: 'host',
    default: 604800,
    check: number({ min: 60, max: 86400 * 3650, integer: true, unit: 'seconds' }),
    doc: 'Seconds a refresh token is valid (Prosody default).',
  },
  {
    name: 'oauth2_registration_rate_limit',
    scope: 'host',
    default: 60,
    check: number({ min: 0, max: 1_000_000, integer: true }),
    doc: 'Client registrations per client address per minute (0: no limit).',
  },
  {
    name: 'oauth2_token_rate_limit',
    scope: 'host',
    default: 6000,
    check: number({ min: 0, max: 10_000_000, integer: true }),
    doc: 'Token, introspection and revocation requests per client address per minute (0: no limit).',
  },
  {
    name: 'oauth2_password_grant',
    scope: 'host',
    default: false,
    check: (v, key, problems) => {
      if (typeof v === 'boolean') return v;
      problems.push(`${key}: expected true or false, got ${show(v)}`);
      return undefined;
    },
    doc: 'Allow the resource owner password grant for legacy clients (off by default: RFC 9700 §2.4).',
  },
  {
    name: 'oauth2_introspection_credentials',
    scope: 'host',
    default: Object.freeze([]),
    check: introspectionCredentials,
    shown: 'none',
    doc: 'Resource servers (e.g. Dovecot) that may introspect every token of the host: `"name:secret"` or `"name:secret:scope"` (HTTP Basic or client_secret_post with `name` as client_id; with a scope, a token without it is answered `active: false`). Names: letters, digits, `-`, `_`; secrets: at least 16 characters, no `:`.',
  },
  {
    name: 'oauth2_jwt_resources',
    scope: 'host',
    default: Object.freeze([]),
    check: jwtResources,
    shown: 'none',
    doc: 'Resources (RFC 8707 absolute URIs, e.g. `"imap://mail.example.org"`) for which a token request with that `resource` gets a JWT access token (RFC 9068) instead of an opaque one; any other `resource` is `invalid_target`.',
  },
  {
    name: 'oauth2_jwt_typ',
    scope: 'host',
    default: 'at+jwt',
    check: oneOf(['at+jwt', 'JWT'] as const),
    doc: 'The `typ` header of JWT access tokens: `"at+jwt"` (RFC 9068 §2.1), or `"JWT"` for a resource server that refuses any other, such as Dovecot 2.3 validating them locally (`introspection_mode = local`).',
  },
  {
    name: 'oauth2_jwt_access_token_ttl',
    scope: 'host',
    default: 300,
    check: number({ min: 30, max: 86400, integer: true, unit: 'seconds' }),
    doc: 'Seconds a JWT access token is valid. Keep it short: a revoked JWT is refused by introspection at once, but a resource server that verifies it offline accepts it until it expires.',
  },
  {
    name: 'oauth2_template_dir',
    scope: 'global',
    default: null,
    check: string,
    doc: 'Directory whose page templates (layout.html, login.html, consent.html, error.html, device*.html, account*.html, style.css) replace the defaults.',
  },
  {
    name: 'site_name',
    scope: 'host',
    default: null,
    check: string,
    shown: 'the host',
    doc: 'Name shown on the login and consent pages.',
  },
  {
    name: 'http_ports',
    scope: 'global',
    default: Object.freeze([5280]),
    check: ports,
    doc: 'Ports `gatehouse serve` listens on.',
  },
  {
    name: 'http_interfaces',
    scope: 'global',
    default: Object.freeze(['127.0.0.1']),
    check: stringList(),
    doc: 'Addresses `gatehouse serve` listens on.',
  },
  {
    name: 'extauth_socket',
    scope: 'global',
    default: null,
    check: string,
    doc: "Unix socket where `gatehouse serve` speaks the extauth protocol, one worker per connection, in lockstep (ejabberd: `extauth_program: \"gatehouse-extauth-connect /run/gatehouse/extauth.sock\"`). Relative to the config file.",
  },
  {
    name: 'extauth_socket_mode',
    scope: 'global',
    default: 0o660,
    check: number({ min: 0, max: 0o777, integer: true }),
    shown: '`0o660`',
    doc: 'File mode of the extauth socket (TOML octal, e.g. `0o660`): the user ejabberd runs as must be able to connect.',
  },
  {
    name: 'extauth_port',
    scope: 'global',
    default: null,
    check: number({ min: 0, max: 65535, integer: true }),
    doc: 'TCP port where the extauth protocol is served, on `extauth_interfaces`.',
  },
  {
    name: 'extauth_interfaces',
    scope: 'global',
    default: Object.freeze(['127.0.0.1']),
    check: stringList(),
    doc: 'Addresses the extauth TCP port listens on.',
  },
  {
    name: 'extauth_socket_protocol',
    scope: 'global',
    default: 'ejabberd',
    check: oneOf(['ejabberd', 'generic'] as const),
    doc: 'Protocol spoken on the extauth socket and port: `"ejabberd"` (2-byte length frames, ejabberd\'s workers) or `"generic"` (lines).',
  },
  {
    name: 'extauth_socket_caller_timeout',
    scope: 'global',
    default: 30,
    check: number({ min: 0.1, max: 3600, unit: 'seconds' }),
    doc: "How long a worker on the extauth socket waits for an answer (ejabberd 23.01: a fixed 30 s). No answer is written later than this less a margin (a quarter of it, at most 1 s).",
  },
  {
    name: 'dovecot_auth_socket',
    scope: 'global',
    default: null,
    check: string,
    doc: 'Unix socket path where the Dovecot auth protocol is served (Postfix `smtpd_sasl_path`, Prosody `dovecot_auth_socket`). Relative to the config file.',
  },
  {
    name: 'dovecot_auth_socket_mode',
    scope: 'global',
    default: 0o660,
    check: number({ min: 0, max: 0o777, integer: true }),
    shown: '`0o660`',
    doc: 'File mode of the Dovecot auth socket (TOML octal, e.g. `0o660`).',
  },
  {
    name: 'dovecot_auth_port',
    scope: 'global',
    default: null,
    check: number({ min: 0, max: 65535, integer: true }),
    doc: 'TCP port where the Dovecot auth protocol is served (Prosody `dovecot_auth_port`, Postfix `inet:host:port`).',
  },
  {
    name: 'dovecot_auth_interfaces',
    scope: 'global',
    default: Object.freeze(['127.0.0.1']),
    check: stringList(),
    doc: 'Addresses the Dovecot auth TCP port listens on.',
  },
  {
    name: 'dovecot_default_host',
    scope: 'global',
    default: 'localhost',
    check: string,
    doc: 'Host for Dovecot-protocol usernames without `@host`.',
  },
  {
    name: 'dovecot_hosts',
    scope: 'global',
    default: null,
    check: stringList(),
    doc: 'Hosts the Dovecot auth listeners serve; a username naming any other host (`alice@other.example`) is refused without asking the script.',
    shown: '`[dovecot_default_host]`',
  },
  {
    name: 'http_auth_path',
    scope: 'global',
    default: '/auth',
    check: (v, key, problems) => {
      if (typeof v === 'string' && /^\/[A-Za-z0-9._~\/-]*$/.test(v) && !v.endsWith('/')) return v;
      problems.push(`${key}: expected a path like "/auth" (no trailing slash), got ${JSON.stringify(v)}`);
      return undefined;
    },
    doc: "Path prefix of the mod_auth_http-compatible API (Prosody's `http_auth_url` points here).",
  },
  {
    name: 'http_auth_credentials',
    scope: 'global',
    default: null,
    check: (v, key, problems) => {
      if (typeof v === 'string' && /^[^:]+:.+$/.test(v)) return v;
      problems.push(`${key}: expected "user:password", as Prosody's http_auth_credentials`);
      return undefined;
    },
    doc: 'When set (`"user:password"`, as in Prosody), the auth API requires this HTTP Basic login.',
  },
  {
    name: 'http_trusted_proxies',
    scope: 'global',
    default: Object.freeze([]),
    check: (v, key, problems) => {
      if (Array.isArray(v) && v.every((x) => typeof x === 'string' && /^[0-9a-fA-F.:/]+$/.test(x))) return Object.freeze([...v] as string[]);
      problems.push(`${key}: expected a list of proxy addresses or CIDR ranges, e.g. ["127.0.0.1"], got ${show(v)}`);
      return undefined;
    },
    doc: 'Reverse proxies whose `X-Forwarded-For` is believed (addresses or CIDR ranges), so that throttling by client address sees the client, not the proxy.',
  },
  {
    name: 'log_level',
    scope: 'global',
    default: 'info',
    check: oneOf(LOG_LEVELS),
    doc: 'One of trace, debug, info, warn, error, fatal, silent. Logs are JSON lines on stderr; `gatehouse serve` also writes one start line there whatever the level.',
  },
  {
    name: 'log_file',
    scope: 'global',
    default: null,
    check: string,
    doc: 'Append the JSON logs to this file (relative to the config file) instead of stderr. Without it, a bridge whose stderr is a terminal (Prosody\'s pty) logs nothing: its terminal carries answers only.',
  },
  {
    name: 'extauth_caller_timeout',
    scope: 'global',
    default: 5,
    check: number({ min: 0.1, max: 3600, unit: 'seconds' }),
    doc: "How long the caller of a lockstep bridge waits for one answer: Prosody's `external_auth_timeout` (default 5). The bridge never answers later than this less a margin (a quarter of it, at most 1 s).",
  },
  {
    name: 'data_dir',
    scope: 'global',
    default: 'data',
    check: string,
    doc: 'Directory for the embedded SQLite database, relative to the config file.',
  },
  {
    name: 'database_url',
    scope: 'global',
    default: null,
    check: string,
    doc: '`postgres://...` to use PostgreSQL instead of the embedded SQLite (several instances share it).',
  },
];

/** Name or alias -> definition (null prototype: no `__proto__` surprises). */
export const KEY_INDEX: Readonly<Record<string, KeyDef>> = (() => {
  const index: Record<string, KeyDef> = Object.create(null);
  for (const def of KEYS) {
    index[def.name] = def;
    for (const a of def.aliases ?? []) index[a] = def;
  }
  return Object.freeze(index);
})();

/** A URL hostname that names this machine: 127.0.0.0/8, [::1], localhost. */
function isLoopbackName(hostname: string): boolean {
  return hostname === 'localhost' || hostname.endsWith('.localhost') || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}
