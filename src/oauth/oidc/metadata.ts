/**
 * The metadata OpenID Connect adds (OpenID Connect Discovery 1.0 §3). serverMetadata puts it
 * in the RFC 8414 document too (RFC 8414 §2 registers jwks_uri and admits the OpenID fields),
 * so both documents are one and a client reading either learns the same.
 */
import type { OAuthHost } from '../host.js';
import { ID_TOKEN_ALG } from './alg.js';
import { USERINFO_CLAIMS } from './userinfo.js';

/** Claims Gatehouse may put in an id_token or a UserInfo response. */
const CLAIMS_SUPPORTED: readonly string[] = Object.freeze([
  'iss',
  'sub',
  'aud',
  'exp',
  'iat',
  'auth_time',
  'nonce',
  'amr',
  ...USERINFO_CLAIMS.filter((c) => c !== 'sub'),
]);

export function oidcMetadata(host: OAuthHost): Record<string, unknown> {
  return {
    jwks_uri: host.url('/oauth2/jwks'),
    userinfo_endpoint: host.url('/oauth2/userinfo'),
    // RP-Initiated Logout 1.0 §2.1 (end-session.ts).
    end_session_endpoint: host.url('/oauth2/logout'),
    id_token_signing_alg_values_supported: [ID_TOKEN_ALG],
    subject_types_supported: ['public'],
    claims_supported: [...CLAIMS_SUPPORTED],
    // Said explicitly: request_uri_parameter_supported defaults to true (Discovery §3).
    claims_parameter_supported: false,
    request_parameter_supported: false,
    request_uri_parameter_supported: false,
  };
}
