/**
 * Configuration loading, once, at the edge (fastify's initial-config-validation): read the
 * TOML file, apply `GATEHOUSE_*` environment overrides, check every key, report every problem
 * at once (naming the key, with a "did you mean" for unknown ones), and return a deep-frozen,
 * typed object. Code below trusts it and does not check again.
 */
import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parse as parseToml, TomlError } from 'smol-toml';
import type { ProtocolName } from '../extauth/wire/protocol.js';
import { ConfigError } from './errors.js';
import { KEY_INDEX, KEYS, type IntrospectionCredential, type KeyDef, type LogLevel } from './keys.js';
import { closest } from './suggest.js';
import type { GatehouseConfig, HostConfig } from './types.js';

export interface LoadOptions {
  /** Environment to read `GATEHOUSE_*` overrides from (default: none). */
  readonly env?: NodeJS.ProcessEnv;
}

/** Read and validate a TOML file. Throws ConfigError listing every problem. */
export function loadConfigFile(path: string, options: LoadOptions = {}): GatehouseConfig {
  const file = resolve(path);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError(file, [`cannot read the file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`]);
  }
  return parseConfigText(text, { ...options, source: file, dir: dirname(file) });
}

/** Validate TOML text. `dir` is where relative paths point. */
export function parseConfigText(
  text: string,
  options: LoadOptions & { source?: string; dir?: string } = {},
): GatehouseConfig {
  const source = options.source ?? '<text>';
  let raw: Record<string, unknown>;
  try {
    raw = parseToml(text) as Record<string, unknown>;
  } catch (err) {
    const where = err instanceof TomlError ? ` at line ${err.line}, column ${err.column}` : '';
    throw new ConfigError(source, [`not valid TOML${where}: ${(err as Error).message.split('\n')[0]}`]);
  }
  return buildConfig(raw, { source, dir: options.dir ?? process.cwd(), env: options.env ?? {} });
}

/** Validate an already-parsed object (the library entry point). */
export function buildConfig(
  raw: Record<string, unknown>,
  options: { source?: string; dir?: string; env?: NodeJS.ProcessEnv } = {},
): GatehouseConfig {
  const source = options.source ?? '<object>';
  const dir = options.dir ?? process.cwd();
  const problems: string[] = [];

  const top = { ...raw };
  applyEnv(top, options.env ?? {}, problems);

  const hostsRaw = top['hosts'];
  delete top['hosts'];
  const globals = collect(top, '', 'global', problems);

  const defaults = hostSettings(null, globals, dir, problems, '');
  const hosts = new Map<string, HostConfig>();
  if (hostsRaw !== undefined) {
    if (!isTable(hostsRaw)) {
      problems.push('hosts: expected a table of [hosts."example.com"] sections');
    } else {
      for (const [name, table] of Object.entries(hostsRaw)) {
        const prefix = `hosts."${name}".`;
        if (!isTable(table)) {
          problems.push(`hosts."${name}": expected a table`);
          continue;
        }
        if (!/^[^\s/:@]+$/.test(name)) problems.push(`hosts."${name}": not a valid host name`);
        const own = collect(table, prefix, 'host', problems);
        hosts.set(name, hostSettings(name, new Map([...globals, ...own]), dir, problems, prefix));
      }
    }
  }

  const issuerPaths = new Map<string, string>();
  for (const [name, h] of hosts) {
    if (h.oauth2.issuer === null) continue;
    if (h.oauth2.registrationKeys.length === 0) {
      problems.push(`hosts."${name}".oauth2_issuer: OAuth needs oauth2_registration_key for this host`);
    }
    const path = new URL(h.oauth2.issuer).pathname.replace(/\/$/, '');
    const other = issuerPaths.get(path);
    if (other !== undefined) problems.push(`hosts."${name}".oauth2_issuer: same path as the issuer of "${other}"; give each host its own path`);
    issuerPaths.set(path, name);
  }
  if (defaults.oauth2.issuer !== null) problems.push('oauth2_issuer: set it per host, in [hosts."example.com"]');

  if (problems.length > 0) throw new ConfigError(source, problems);

  const get = <T>(name: string): T => (globals.has(name) ? globals.get(name) : def(name).default) as T;
  const config: GatehouseConfig = {
    source,
    dir,
    logLevel: get<LogLevel>('log_level'),
    logFile: get<string | null>('log_file') === null ? null : resolve(dir, get<string>('log_file')),
    extauthCallerTimeoutMs: Math.round(get<number>('extauth_caller_timeout') * 1000),
    dataDir: resolve(dir, get<string>('data_dir')),
    databaseUrl: get<string | null>('database_url'),
    http: {
      ports: get<readonly number[]>('http_ports'),
      interfaces: get<readonly string[]>('http_interfaces'),
      trustedProxies: get<readonly string[]>('http_trusted_proxies'),
    },
    extauthSocket: {
      socket: get<string | null>('extauth_socket') === null ? null : resolve(dir, get<string>('extauth_socket')),
      socketMode: get<number>('extauth_socket_mode'),
      port: get<number | null>('extauth_port'),
      interfaces: get<readonly string[]>('extauth_interfaces'),
      protocol: get<'ejabberd' | 'generic'>('extauth_socket_protocol'),
      callerTimeoutMs: Math.round(get<number>('extauth_socket_caller_timeout') * 1000),
    },
    dovecot: {
      socket: get<string | null>('dovecot_auth_socket') === null ? null : resolve(dir, get<string>('dovecot_auth_socket')),
      socketMode: get<number>('dovecot_auth_socket_mode'),
      port: get<number | null>('dovecot_auth_port'),
      interfaces: get<readonly string[]>('dovecot_auth_interfaces'),
      defaultHost: get<string>('dovecot_default_host'),
      // The safe default: a listener serves the one host its caller is for.
      hosts: (get<readonly string[] | null>('dovecot_hosts') ?? [get<string>('dovecot_default_host')]).map((h) => h.toLowerCase()),
    },
    templateDir: get<string | null>('oauth2_template_dir') === null ? null : resolve(dir, get<string>('oauth2_template_dir')),
    authApi: { path: get<string>('http_auth_path'), credentials: get<string | null>('http_auth_credentials') },
    defaults,
    hosts,
  };
  return deepFreeze(config);
}

function def(name: string): KeyDef {
  return KEY_INDEX[name]!;
}

function isTable(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Date);
}

/** Check the keys of one table; returns canonical name -> checked value. */
function collect(
  table: Record<string, unknown>,
  prefix: string,
  scope: 'global' | 'host',
  problems: string[],
): Map<string, unknown> {
  const out = new Map<string, unknown>();
  const seenAs = new Map<string, string>();
  for (const [key, value] of Object.entries(table)) {
    const d = KEY_INDEX[key];
    if (d === undefined) {
      const hint = closest(key, Object.keys(KEY_INDEX));
      problems.push(`${prefix}${key}: unknown key${hint ? ` (did you mean "${hint}"?)` : ''}`);
      continue;
    }
    if (scope === 'host' && d.scope === 'global') {
      problems.push(`${prefix}${key}: can only be set at the top level, not per host`);
      continue;
    }
    const earlier = seenAs.get(d.name);
    if (earlier !== undefined) {
      problems.push(`${prefix}${key}: same setting as "${earlier}"; give only one of them`);
      continue;
    }
    seenAs.set(d.name, key);
    const checked = d.check(value, `${prefix}${key}`, problems);
    if (checked !== undefined) out.set(d.name, checked);
  }
  return out;
}

function hostSettings(
  name: string | null,
  values: Map<string, unknown>,
  dir: string,
  problems: string[],
  prefix: string,
): HostConfig {
  const get = <T>(key: string): T => (values.has(key) ? values.get(key) : def(key).default) as T;
  const timeoutS = get<number>('external_auth_timeout');
  const maxQueryBytes = get<number>('external_auth_max_query_bytes');
  const protocol = get<ProtocolName>('external_auth_protocol');
  if (protocol === 'ejabberd' && maxQueryBytes > 65535) {
    problems.push(`${prefix}external_auth_max_query_bytes: the ejabberd protocol carries at most 65535 bytes`);
  }
  return {
    name,
    extauth: {
      command: get<readonly string[] | null>('external_auth_command'),
      protocol,
      timeoutMs: Math.round(timeoutS * 1000),
      processes: get<number>('external_auth_processes'),
      queueLimit: get<number>('external_auth_queue_limit'),
      queueTimeoutMs: Math.round(get<number>('external_auth_queue_timeout') * 1000),
      maxQueryBytes,
      killGraceMs: Math.round(get<number>('external_auth_kill_grace') * 1000),
      cacheTtlMs: Math.round(get<number>('external_auth_cache_ttl') * 1000),
      commands: get<readonly string[]>('external_auth_commands'),
      cwd: dir,
    },
    throttle: {
      userLimit: get<number>('auth_failure_limit_user'),
      addressLimit: get<number>('auth_failure_limit_address'),
      windowMs: get<number>('auth_failure_window') * 1000,
      backoffMaxMs: get<number>('auth_failure_backoff_max') * 1000,
    },
    oauth2: {
      registrationKeys: get<readonly string[] | null>('oauth2_registration_key') ?? [],
      registrationTtlS: get<number | null>('oauth2_registration_ttl'),
      issuer: get<string | null>('oauth2_issuer'),
      accessTokenTtlS: get<number>('oauth2_access_token_ttl'),
      refreshTokenTtlS: get<number>('oauth2_refresh_token_ttl'),
      siteName: get<string | null>('site_name'),
      passwordGrant: get<boolean>('oauth2_password_grant'),
      registrationRateLimit: get<number>('oauth2_registration_rate_limit'),
      tokenRateLimit: get<number>('oauth2_token_rate_limit'),
      introspectionCredentials: get<readonly IntrospectionCredential[]>('oauth2_introspection_credentials'),
      jwtResources: get<readonly string[]>('oauth2_jwt_resources'),
      jwtAccessTokenTtlS: get<number>('oauth2_jwt_access_token_ttl'),
      jwtTyp: get<'at+jwt' | 'JWT'>('oauth2_jwt_typ'),
    },
  };
}

/**
 * `GATEHOUSE_EXTERNAL_AUTH_TIMEOUT=2` overrides `external_auth_timeout` at the top level.
 * Values are read as TOML values (`4`, `"x"`, `["a","b"]`); anything that is not one is taken
 * as a plain string. Other GATEHOUSE_* variables are not settings and are ignored.
 */
function applyEnv(top: Record<string, unknown>, env: NodeJS.ProcessEnv, problems: string[]): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith('GATEHOUSE_') || value === undefined) continue;
    const key = name.slice('GATEHOUSE_'.length).toLowerCase();
    const d = KEY_INDEX[key];
    if (d === undefined) continue;
    for (const k of [d.name, ...(d.aliases ?? [])]) delete top[k];
    let parsed: unknown = value;
    try {
      parsed = (parseToml(`v = ${value}`) as { v: unknown }).v;
    } catch {
      /* a bare string */
    }
    if (parsed === undefined) problems.push(`${name}: no value`);
    top[d.name] = parsed;
  }
}

function deepFreeze<T>(value: T): T {
  if (value instanceof Map) {
    for (const v of value.values()) deepFreeze(v);
    // A frozen Map can still be mutated through its methods: shadow them.
    for (const m of ['set', 'delete', 'clear'] as const) {
      Object.defineProperty(value, m, {
        value: () => {
          throw new TypeError('configuration is read-only');
        },
      });
    }
  } else if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return Object.freeze(value);
}

export { KEYS };
