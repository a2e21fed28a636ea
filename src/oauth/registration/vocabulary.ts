/**
 * The metadata values a client may register (RFC 7591 §2). Anything outside these lists is
 * refused, so a client_id can never carry a capability the server does not implement.
 */

/** RFC 8628 §3.4: the device authorization grant. */
export const DEVICE_CODE_GRANT = 'urn:ietf:params:oauth:grant-type:device_code';

/**
 * Grant types (RFC 7591 §2). `password` (RFC 6749 §4.3) is listed for parity with Prosody's
 * mod_http_oauth2, whose XMPP clients still use it; RFC 9700 §2.4 says it MUST NOT be used,
 * so the token endpoint decides whether to honour it. No implicit grant (RFC 9700 §2.1.2).
 */
export const GRANT_TYPES = ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT, 'password'] as const;
export type GrantType = (typeof GRANT_TYPES)[number];

/** Only `code`: `token` would be the implicit flow, which RFC 9700 §2.1.2 retires. */
export const RESPONSE_TYPES = ['code'] as const;
export type ResponseType = (typeof RESPONSE_TYPES)[number];

/** RFC 7591 §2; `none` is a public client, which must use PKCE (RFC 9700 §2.1.1). */
export const TOKEN_ENDPOINT_AUTH_METHODS = ['client_secret_basic', 'client_secret_post', 'none'] as const;
export type TokenEndpointAuthMethod = (typeof TOKEN_ENDPOINT_AUTH_METHODS)[number];

/** OpenID Connect Dynamic Client Registration 1.0 §2 `application_type`. */
export const APPLICATION_TYPES = ['web', 'native'] as const;
export type ApplicationType = (typeof APPLICATION_TYPES)[number];

/** XMPP scopes (XEP-0493), the mail ones (imap, smtp) and the OpenID Connect ones Gatehouse serves. */
export const SCOPES = [
  'xmpp',
  'xmpp:client:normal',
  'xmpp:account:read',
  'xmpp:account:write',
  'imap',
  'smtp',
  'openid',
  'profile',
  'offline_access',
] as const;
export type Scope = (typeof SCOPES)[number];

/** Membership test that reads no prototype chain and narrows the type. */
export function isOneOf<T extends string>(list: readonly T[], value: unknown): value is T {
  return typeof value === 'string' && (list as readonly string[]).includes(value);
}
