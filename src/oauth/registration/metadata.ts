/**
 * Client metadata validation for stateless registration (RFC 7591 §2), following Prosody's
 * mod_http_oauth2. The result becomes the payload of the client_id, so it is normalized
 * (defaults filled in, unknown members dropped as RFC 7591 §2 requires them to be ignored)
 * and bounded in size. Failures are RFC 7591 §3.2.2 errors naming the member at fault:
 * invalid_redirect_uri for a redirect URI, invalid_client_metadata for anything else.
 *
 * Enforced, in order: a JSON object; client_name (shown on the consent page); client_uri, when
 * given, https and not loopback (optional: without it the client is shown as unverified, and a
 * web client's redirect URIs share the host of the first one); grant_types and response_types
 * consistent with each other (RFC 7591 §2.1), no implicit flow (RFC 9700 §2.1.2): values the
 * server does not serve are dropped from a list that also asks for ones it serves (RFC 7591 §2
 * lets the server replace requested values; the response says what was registered), and a list
 * left with nothing the server serves is refused;
 * token_endpoint_auth_method; redirect_uris per application_type (redirect-uri.ts), at least
 * one for the authorization_code grant; post_logout_redirect_uris (OpenID Connect RP-Initiated
 * Logout 1.0 §3.1) by the same rules as redirect_uris; logo_uri, tos_uri, policy_uri https on the client_uri
 * host; scope from the supported list; software_id, software_version, contacts; total size.
 */
import { ID_TOKEN_ALG } from '../oidc/alg.js';
import { invalidClientMetadata, invalidRedirectUri } from '../errors.js';
import { member, stringArray, text, uriString, type Input } from './fields.js';
import { checkRedirectUri, isNativeKind, parseRedirectUri } from './redirect-uri.js';
import { isLoopbackHost, parseStrictUri } from './uri.js';
import {
  APPLICATION_TYPES,
  DEVICE_CODE_GRANT,
  GRANT_TYPES,
  RESPONSE_TYPES,
  SCOPES,
  TOKEN_ENDPOINT_AUTH_METHODS,
  isOneOf,
  type ApplicationType,
  type GrantType,
  type ResponseType,
  type TokenEndpointAuthMethod,
} from './vocabulary.js';

/** Validated, normalized client metadata: what a client_id carries. */
export interface ClientMetadata {
  readonly client_name: string;
  /** Absent when the registrant gave none: the pages then call the client unverified. */
  readonly client_uri?: string;
  readonly redirect_uris: readonly string[];
  /** Where end_session may send the user back (oidc/end-session.ts); exact match. */
  readonly post_logout_redirect_uris?: readonly string[];
  readonly application_type: ApplicationType;
  readonly token_endpoint_auth_method: TokenEndpointAuthMethod;
  readonly grant_types: readonly GrantType[];
  readonly response_types: readonly ResponseType[];
  readonly scope?: string;
  readonly logo_uri?: string;
  readonly tos_uri?: string;
  readonly policy_uri?: string;
  readonly software_id?: string;
  readonly software_version?: string;
  readonly contacts?: readonly string[];
}

/**
 * Bounds on what a client may register. The metadata travels base64url-encoded inside every
 * client_id (4/3 larger), so its JSON is capped at 1280 bytes: with the JWS header, nonce,
 * iat, exp and signature a client_id stays under 2 KB, small enough for a URL query string.
 */
export const METADATA_LIMITS = Object.freeze({
  /** client_name, software_id, software_version, each contact: characters. */
  text: 100,
  /** Each URI: characters. */
  uri: 512,
  redirectUris: 8,
  contacts: 4,
  /** UTF-8 bytes of the normalized metadata as JSON. */
  totalBytes: 1280,
});

const INFORMATIVE_URIS = ['logo_uri', 'tos_uri', 'policy_uri'] as const;

/**
 * Validates a registration request body and returns the frozen, normalized metadata.
 *
 * @throws OAuthError invalid_client_metadata or invalid_redirect_uri (RFC 7591 §3.2.2)
 * @example
 * const metadata = validateClientMetadata(JSON.parse(body));
 */
export function validateClientMetadata(input: unknown): ClientMetadata {
  if (typeof input !== 'object' || input === null || Array.isArray(input)) {
    throw invalidClientMetadata('client metadata must be a JSON object');
  }
  const m = input as Input;
  const L = METADATA_LIMITS;

  const client_name = text(required(m, 'client_name'), 'client_name', L.text);
  const rawClientUri = member(m, 'client_uri');
  const client_uri = rawClientUri === undefined ? undefined : uriString(rawClientUri, 'client_uri', L.uri);
  const uriHost = client_uri === undefined ? undefined : httpsHost(client_uri, 'client_uri');
  // The consent page names the client by this host; a loopback one would say nothing.
  if (uriHost !== undefined && isLoopbackHost(uriHost)) throw invalidClientMetadata('client_uri must not be on a loopback host');

  const grant_types = grantTypes(member(m, 'grant_types'));
  const response_types = responseTypes(member(m, 'response_types'), grant_types);
  const token_endpoint_auth_method = authMethod(member(m, 'token_endpoint_auth_method'));

  const rawRedirects = member(m, 'redirect_uris');
  const redirect_uris =
    rawRedirects === undefined ? [] : stringArray(rawRedirects, 'redirect_uris', L.redirectUris, invalidRedirectUri);
  const redirects = redirect_uris.map((raw, i) =>
    parseRedirectUri(uriString(raw, `redirect_uris[${i}]`, L.uri, invalidRedirectUri), `redirect_uris[${i}]`),
  );
  const application_type = applicationType(
    member(m, 'application_type'),
    redirects[0] !== undefined && isNativeKind(redirects[0].kind),
    grant_types.includes(DEVICE_CODE_GRANT),
  );
  // Web redirect and post-logout URIs share one host: client_uri's, or without it
  // the first redirect URI's, so one registration cannot aim codes at several sites.
  const clientHost = uriHost ?? (redirects[0]?.kind === 'https' ? redirects[0].url.hostname : undefined);
  const hostNamedBy = uriHost === undefined ? 'redirect_uris[0]' : 'client_uri';
  redirects.forEach((uri, i) => checkRedirectUri(uri, `redirect_uris[${i}]`, application_type, clientHost, hostNamedBy));
  // RFC 6749 §3.1.2.2: the code is delivered to a registered redirect URI; without one the
  // authorization_code grant cannot work (RFC 9700 §2.1 requires exact matching).
  if (grant_types.includes('authorization_code') && redirect_uris.length === 0) {
    throw invalidClientMetadata('redirect_uris must contain at least one URI when grant_types includes authorization_code');
  }
  // A redirect like any other (RP-Initiated Logout §3.1): the same URI rules as redirect_uris.
  const rawLogout = member(m, 'post_logout_redirect_uris');
  const post_logout_redirect_uris =
    rawLogout === undefined ? undefined : stringArray(rawLogout, 'post_logout_redirect_uris', L.redirectUris, invalidRedirectUri);
  post_logout_redirect_uris?.forEach((raw, i) => {
    const field = `post_logout_redirect_uris[${i}]`;
    checkRedirectUri(parseRedirectUri(uriString(raw, field, L.uri, invalidRedirectUri), field), field, application_type, clientHost, hostNamedBy);
  });

  const informative: Partial<Record<(typeof INFORMATIVE_URIS)[number], string>> = {};
  for (const field of INFORMATIVE_URIS) {
    const v = member(m, field);
    if (v === undefined) continue;
    const s = uriString(v, field, L.uri);
    if (uriHost === undefined) throw invalidClientMetadata(`${field} requires client_uri`);
    if (httpsHost(s, field) !== uriHost) throw invalidClientMetadata(`${field} must be on the client_uri host`);
    informative[field] = s;
  }

  const scope = scopeValue(member(m, 'scope'));
  const software_id = optionalText(m, 'software_id', L.text);
  const software_version = optionalText(m, 'software_version', L.text);
  const contacts = contactList(member(m, 'contacts'));
  // OpenID Connect Dynamic Client Registration §2: an id_token algorithm we never sign with
  // cannot be honoured; refuse it rather than silently drop it. (Not stored: it is a constant.)
  const idTokenAlg = member(m, 'id_token_signed_response_alg');
  if (idTokenAlg !== undefined && idTokenAlg !== ID_TOKEN_ALG) {
    throw invalidClientMetadata(`id_token_signed_response_alg must be ${ID_TOKEN_ALG}`);
  }

  const out: ClientMetadata = {
    client_name,
    ...(client_uri === undefined ? {} : { client_uri }),
    redirect_uris: Object.freeze([...redirect_uris]),
    ...(post_logout_redirect_uris === undefined ? {} : { post_logout_redirect_uris: Object.freeze([...post_logout_redirect_uris]) }),
    application_type,
    token_endpoint_auth_method,
    grant_types: Object.freeze([...grant_types]),
    response_types: Object.freeze([...response_types]),
    ...(scope === undefined ? {} : { scope }),
    ...informative,
    ...(software_id === undefined ? {} : { software_id }),
    ...(software_version === undefined ? {} : { software_version }),
    ...(contacts === undefined ? {} : { contacts: Object.freeze([...contacts]) }),
  };
  const json = JSON.stringify(out);
  if (Buffer.byteLength(json, 'utf8') > L.totalBytes) {
    throw invalidClientMetadata(`client metadata must not be larger than ${L.totalBytes} bytes once normalized`);
  }
  const frozen = Object.freeze(out);
  NORMALIZED_JSON.set(frozen, json);
  return frozen;
}

/** The JSON of validated metadata, made once by validateClientMetadata for the size check. */
const NORMALIZED_JSON = new WeakMap<ClientMetadata, string>();

/**
 * `metadata` as JSON: the string the size check measured, reused for the client_id payload
 * and the registration response (registration's hot path), or made now for metadata that did
 * not come from validateClientMetadata.
 */
export function metadataJson(metadata: ClientMetadata): string {
  return NORMALIZED_JSON.get(metadata) ?? JSON.stringify(metadata);
}

function required(m: Input, field: string): unknown {
  const v = member(m, field);
  if (v === undefined) throw invalidClientMetadata(`${field} is required`);
  return v;
}

/** Parses an https URI and returns its host; `field` names it in errors. */
function httpsHost(raw: string, field: string): string {
  const uri = parseStrictUri(raw, field, invalidClientMetadata);
  if (uri.scheme !== 'https') throw invalidClientMetadata(`${field} must be an https URI`);
  return uri.url.hostname;
}

/**
 * RFC 7591 §2 lets the server "reject or replace any of the client's requested metadata
 * values": a grant type the server does not serve (e.g. `implicit`, which mod_auth_openidc
 * asks for) is dropped when the list also asks for one it serves; a list with none is refused.
 */
function grantTypes(v: unknown): readonly GrantType[] {
  if (v === undefined) return ['authorization_code'];
  const list = stringArray(v, 'grant_types', 16);
  if (list.length === 0) throw invalidClientMetadata('grant_types must not be empty');
  const served = list.filter((g): g is GrantType => isOneOf(GRANT_TYPES, g));
  if (served.length === 0) throw invalidClientMetadata(`grant_types must include a supported grant type: ${GRANT_TYPES.join(', ')}`);
  return served;
}

/**
 * RFC 7591 §2.1: `code` goes with authorization_code, and only with it. Other response types
 * (`token`, `id_token`, combinations: the implicit and hybrid flows, which put tokens in the
 * browser, RFC 9700 §2.1.2) are dropped when `code` is also asked for, else refused.
 */
function responseTypes(v: unknown, grants: readonly GrantType[]): readonly ResponseType[] {
  const code = grants.includes('authorization_code');
  if (v === undefined) return code ? ['code'] : [];
  const list = stringArray(v, 'response_types', 16);
  const served = list.filter((r): r is ResponseType => isOneOf(RESPONSE_TYPES, r));
  if (served.length < list.length && served.length === 0) {
    const i = list.findIndex((r) => !isOneOf(RESPONSE_TYPES, r));
    throw invalidClientMetadata(`response_types[${i}] is not supported: only code is (no implicit flow, RFC 9700 section 2.1.2)`);
  }
  if (code && served.length === 0) throw invalidClientMetadata('grant_types authorization_code requires response_types code');
  if (!code && served.length > 0) throw invalidClientMetadata('response_types code requires grant_types authorization_code');
  return served;
}

function authMethod(v: unknown): TokenEndpointAuthMethod {
  if (v === undefined) return 'client_secret_basic';
  if (!isOneOf(TOKEN_ENDPOINT_AUTH_METHODS, v)) {
    throw invalidClientMetadata(`token_endpoint_auth_method must be one of ${TOKEN_ENDPOINT_AUTH_METHODS.join(', ')}`);
  }
  return v;
}

/** Explicit, or inferred like Prosody: native when the first redirect URI or the device grant says so. */
function applicationType(v: unknown, firstIsNative: boolean, device: boolean): ApplicationType {
  if (v === undefined) return firstIsNative || device ? 'native' : 'web';
  if (!isOneOf(APPLICATION_TYPES, v)) throw invalidClientMetadata('application_type must be web or native');
  return v;
}

/** RFC 6749 §3.3: scope values separated by single spaces, here from SCOPES, no repeats. */
function scopeValue(v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw invalidClientMetadata('scope must be a string');
  const values = v.split(' ');
  if (values.some((s) => s === '')) throw invalidClientMetadata('scope must be scope values separated by single spaces');
  if (!values.every((s) => isOneOf(SCOPES, s))) {
    throw invalidClientMetadata(`scope values must be among: ${SCOPES.join(' ')}`);
  }
  if (new Set(values).size !== values.length) throw invalidClientMetadata('scope must not repeat a value');
  return v;
}

function optionalText(m: Input, field: string, max: number): string | undefined {
  const v = member(m, field);
  return v === undefined ? undefined : text(v, field, max);
}

/** RFC 7591 §2 contacts; an empty list says nothing and is dropped. */
function contactList(v: unknown): readonly string[] | undefined {
  if (v === undefined) return undefined;
  const list = stringArray(v, 'contacts', METADATA_LIMITS.contacts);
  list.forEach((c, i) => text(c, `contacts[${i}]`, METADATA_LIMITS.text));
  return list.length === 0 ? undefined : list;
}
