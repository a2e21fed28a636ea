/**
 * One host's OAuth runtime: its issuer, its registration keys, and the keys derived from the
 * signing registration key for browser sessions, authorization-request tokens and CSRF
 * tokens. Deriving them (HMAC-SHA256 with a purpose label) rather than drawing them at random
 * lets sessions survive a restart and be shared by several instances with the same config.
 */
import { createHmac } from 'node:crypto';
import type { IntrospectionCredential } from '../config/keys.js';
import { hostConfig, oauthHostNames, type GatehouseConfig, type HostConfig } from '../config/types.js';
import { ClientCache } from './clients/cache.js';
import { RegistrationKeys } from './registration/keys.js';

export class OAuthHost {
  readonly host: string;
  readonly issuer: string;
  /** The issuer's path without a trailing slash ('' for an issuer at the root). */
  readonly basePath: string;
  readonly keys: RegistrationKeys;
  /** Client_ids already verified (see clients/cache.ts). */
  readonly clients: ClientCache;
  readonly registrationTtlS: number | null;
  readonly accessTokenTtlS: number;
  readonly refreshTokenTtlS: number;
  readonly siteName: string;
  readonly passwordGrant: boolean;
  /** Requests per client address per minute (0: off). */
  readonly registrationRateLimit: number;
  readonly tokenRateLimit: number;
  /** Resource servers that may introspect every token of this host (oauth2_introspection_credentials). */
  readonly introspectionCredentials: readonly IntrospectionCredential[];
  /** RFC 8707 resources whose access tokens are JWTs (RFC 9068). */
  readonly jwtResources: ReadonlySet<string>;
  readonly jwtAccessTokenTtlS: number;
  readonly jwtTyp: 'at+jwt' | 'JWT';
  /** Cookies get the Secure flag when the issuer is https. */
  readonly secure: boolean;
  readonly sessionKey: Buffer;
  readonly requestKey: Buffer;
  readonly csrfKey: Buffer;

  constructor(host: string, config: HostConfig) {
    const o = config.oauth2;
    if (o.issuer === null || o.registrationKeys.length === 0) throw new TypeError(`OAuth is not configured for ${host}`);
    this.host = host;
    this.issuer = o.issuer;
    const url = new URL(o.issuer);
    this.basePath = url.pathname.replace(/\/$/, '');
    this.secure = url.protocol === 'https:';
    this.keys = new RegistrationKeys(o.registrationKeys, host);
    this.clients = new ClientCache(this.keys);
    this.registrationTtlS = o.registrationTtlS;
    this.accessTokenTtlS = o.accessTokenTtlS;
    this.refreshTokenTtlS = o.refreshTokenTtlS;
    this.siteName = o.siteName ?? host;
    this.passwordGrant = o.passwordGrant;
    this.registrationRateLimit = o.registrationRateLimit;
    this.tokenRateLimit = o.tokenRateLimit;
    this.introspectionCredentials = o.introspectionCredentials;
    this.jwtResources = new Set(o.jwtResources);
    this.jwtAccessTokenTtlS = o.jwtAccessTokenTtlS;
    this.jwtTyp = o.jwtTyp;
    const derive = (label: string): Buffer => createHmac('sha256', this.keys.signing.bytes).update(`gatehouse ${label} v1`).digest();
    this.sessionKey = derive('session');
    this.requestKey = derive('authorization request');
    this.csrfKey = derive('csrf');
  }

  /** An absolute URL under the issuer. */
  url(path: string): string {
    return `${this.issuer}${path}`;
  }

  /** The bare JID of a user of this host. */
  jid(user: string): string {
    return `${user}@${this.host}`;
  }

  /**
   * The `sub` of a user (OIDC Core §2: unique within the issuer, never reassigned): the bare
   * JID for the account's first generation, then the bare JID and `#generation` (a name
   * registered again is a new subject; a domainpart never holds a '#', so no JID reads alike).
   */
  subject(user: string, generation: number): string {
    return generation === 0 ? this.jid(user) : `${this.jid(user)}#${generation}`;
  }
}

/** The hosts with OAuth configured (an `oauth2_issuer`). */
export function oauthHosts(config: GatehouseConfig): OAuthHost[] {
  return oauthHostNames(config).map((name) => new OAuthHost(name, hostConfig(config, name)));
}
