/**
 * Authorization server metadata (RFC 8414 §2), listing exactly what this server supports.
 */
import type { OAuthHost } from '../host.js';
import { deviceMetadata } from '../device/routes.js';
import { oidcMetadata } from '../oidc/metadata.js';
import { DEVICE_CODE_GRANT } from '../registration/vocabulary.js';
import { SCOPES } from '../consent/scopes.js';

export function serverMetadata(host: OAuthHost): Record<string, unknown> {
  return {
    issuer: host.issuer,
    authorization_endpoint: host.url('/oauth2/authorize'),
    token_endpoint: host.url('/oauth2/token'),
    registration_endpoint: host.url('/oauth2/register'),
    revocation_endpoint: host.url('/oauth2/revoke'),
    introspection_endpoint: host.url('/oauth2/introspect'),
    scopes_supported: [...SCOPES],
    response_types_supported: ['code'],
    response_modes_supported: ['query'],
    grant_types_supported: ['authorization_code', 'refresh_token', DEVICE_CODE_GRANT, ...(host.passwordGrant ? ['password'] : [])],
    token_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    revocation_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post', 'none'],
    introspection_endpoint_auth_methods_supported: ['client_secret_basic', 'client_secret_post'],
    code_challenge_methods_supported: ['S256'],
    // RFC 9207: the authorization response carries `iss`.
    authorization_response_iss_parameter_supported: true,
    ...deviceMetadata(host),
    ...oidcMetadata(host),
  };
}
