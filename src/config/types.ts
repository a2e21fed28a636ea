/** The validated, frozen configuration that the rest of Gatehouse receives. */
import type { ProtocolName } from '../extauth/wire/protocol.js';
import type { IntrospectionCredential, LogLevel } from './keys.js';

export interface ExtauthConfig {
  /** argv of the auth script; null when not configured. */
  readonly command: readonly string[] | null;
  readonly protocol: ProtocolName;
  readonly timeoutMs: number;
  readonly processes: number;
  readonly queueLimit: number;
  readonly queueTimeoutMs: number;
  readonly maxQueryBytes: number;
  readonly killGraceMs: number;
  readonly cacheTtlMs: number;
  /** Commands the script implements. */
  readonly commands: readonly string[];
  /** Working directory of the script: the config file's directory. */
  readonly cwd: string;
}

export interface ThrottleConfig {
  /** Failures per user within the window; 0: off. */
  readonly userLimit: number;
  /** Failures per client address within the window; 0: off. */
  readonly addressLimit: number;
  readonly windowMs: number;
  /** Longest delay after a failure, past the user limit, on faces without a client address. */
  readonly backoffMaxMs: number;
}

export interface OAuthConfig {
  /** First signs, all verify. Empty: registration disabled. */
  readonly registrationKeys: readonly string[];
  readonly registrationTtlS: number | null;
  /** The issuer URL; null: no OAuth on this host. */
  readonly issuer: string | null;
  readonly accessTokenTtlS: number;
  readonly refreshTokenTtlS: number;
  readonly siteName: string | null;
  /** The password grant is allowed (RFC 9700 §2.4 says it must not be used; legacy only). */
  readonly passwordGrant: boolean;
  /** Per client address per minute; 0: off. */
  readonly registrationRateLimit: number;
  readonly tokenRateLimit: number;
  /** Resource servers that may introspect every token of the host. */
  readonly introspectionCredentials: readonly IntrospectionCredential[];
  /** RFC 8707 resources that get JWT access tokens (RFC 9068). */
  readonly jwtResources: readonly string[];
  readonly jwtAccessTokenTtlS: number;
  /** The JOSE typ of JWT access tokens: RFC 9068's, or plain "JWT" for Dovecot 2.3. */
  readonly jwtTyp: 'at+jwt' | 'JWT';
}

export interface HostConfig {
  /** The virtual host, or null for the global defaults. */
  readonly name: string | null;
  readonly extauth: ExtauthConfig;
  readonly throttle: ThrottleConfig;
  readonly oauth2: OAuthConfig;
}

export interface GatehouseConfig {
  /** Where the configuration came from (a path, or a description). */
  readonly source: string;
  /** Directory relative paths are resolved against. */
  readonly dir: string;
  readonly logLevel: LogLevel;
  /** Where logs go instead of stderr (absolute), or null. */
  readonly logFile: string | null;
  /** The lockstep bridge's caller's timeout (extauth_caller_timeout), ms. */
  readonly extauthCallerTimeoutMs: number;
  readonly dataDir: string;
  readonly databaseUrl: string | null;
  readonly http: { readonly ports: readonly number[]; readonly interfaces: readonly string[]; readonly trustedProxies: readonly string[] };
  /** The extauth protocol served by `gatehouse serve`; no listener when both socket and port are null. */
  readonly extauthSocket: {
    readonly socket: string | null;
    readonly socketMode: number;
    readonly port: number | null;
    readonly interfaces: readonly string[];
    readonly protocol: 'ejabberd' | 'generic';
    readonly callerTimeoutMs: number;
  };
  /** The Dovecot auth protocol face; no listener when both socket and port are null. */
  readonly dovecot: {
    readonly socket: string | null;
    readonly socketMode: number;
    readonly port: number | null;
    readonly interfaces: readonly string[];
    readonly defaultHost: string;
    /** Hosts served (lowercase); usernames naming another are refused. */
    readonly hosts: readonly string[];
  };
  /** Directory of page templates overriding the defaults. */
  readonly templateDir: string | null;
  /** The mod_auth_http-compatible API. */
  readonly authApi: { readonly path: string; readonly credentials: string | null };
  /** Settings outside any `[hosts."..."]` table; they apply to hosts not listed. */
  readonly defaults: HostConfig;
  /** Per-host settings, each already merged over the defaults. */
  readonly hosts: ReadonlyMap<string, HostConfig>;
}

/** The names of the hosts that serve OAuth: those with an `oauth2_issuer`. */
export function oauthHostNames(config: GatehouseConfig): string[] {
  return [...config.hosts].filter(([, h]) => h.oauth2.issuer !== null).map(([name]) => name);
}

/** The settings that apply to `host`. */
export function hostConfig(config: GatehouseConfig, host: string): HostConfig {
  return config.hosts.get(host) ?? config.defaults;
}
