/**
 * Client authentication at the token, revocation and introspection endpoints (RFC 6749
 * §2.3.1): `client_secret_basic` (HTTP Basic, form-urlencoded id and secret), or
 * `client_secret_post` (client_id and client_secret in the body), or, for a public client
 * registered with `none`, its client_id alone. A confidential client may use either secret
 * method, whichever it registered: both prove possession of the same secret, and widely used
 * clients (openid-client) pick `client_secret_post` whenever they hold a secret. A public
 * client can never present a secret, a confidential one never go without, and no request may
 * use two methods at once. An empty client_id or client_secret counts as absent (RFC 6749
 * §3.1: "parameters sent without a value MUST be treated as if they were omitted"): Dovecot
 * 2.3 sends both empty in the body beside its HTTP Basic credentials.
 */
import { basicCredentials } from '../../http/basic-auth.js';
import { ClientCache, type VerifiedClient } from './cache.js';
import { lookupClient } from './lookup.js';
import { invalidClient } from '../errors.js';
import type { OAuthHost } from '../host.js';

export type AuthenticatedClient = VerifiedClient;

const fail = (why: string) => invalidClient('client authentication failed', new Error(why));

export async function authenticateClient(
  host: OAuthHost,
  authorization: string | undefined,
  form: Record<string, string>,
): Promise<AuthenticatedClient> {
  const body = withoutEmptyCredentials(form);
  let method: 'client_secret_basic' | 'client_secret_post' | 'none';
  let clientId: string | undefined;
  let secret: string | undefined;
  const decoded = basicCredentials(authorization);
  if (authorization !== undefined && decoded === null) throw fail('unsupported Authorization scheme');
  if (decoded !== null) {
    if (body['client_secret'] !== undefined) throw fail('two authentication methods at once');
    const colon = decoded.indexOf(':');
    if (colon === -1) throw fail('malformed Basic credentials');
    // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
    try {
      clientId = decodeURIComponent(decoded.slice(0, colon).replace(/\+/g, ' '));
      secret = decodeURIComponent(decoded.slice(colon + 1).replace(/\+/g, ' '));
    } catch {
      throw fail('malformed Basic credentials');
    }
    if (body['client_id'] !== undefined && body['client_id'] !== clientId) throw fail('client_id differs from the Basic user');
    method = 'client_secret_basic';
  } else if (body['client_secret'] !== undefined) {
    clientId = body['client_id'];
    secret = body['client_secret'];
    method = 'client_secret_post';
  } else {
    clientId = body['client_id'];
    method = 'none';
  }
  if (clientId === undefined) throw fail('no client_id');
  const client = await lookupClient(host, clientId);
  const registeredPublic = client.secret === null;
  if (registeredPublic !== (method === 'none')) throw fail(`registered ${client.metadata.token_endpoint_auth_method}, used ${method}`);
  if (method !== 'none' && !ClientCache.secretMatches(client, secret)) throw fail('wrong client_secret');
  return client;
}

/** The form less an empty client_id or client_secret (RFC 6749 §3.1). */
export function withoutEmptyCredentials(form: Record<string, string>): Record<string, string> {
  if (form['client_id'] !== '' && form['client_secret'] !== '') return form;
  const out: Record<string, string> = Object.create(null) as Record<string, string>;
  for (const [k, v] of Object.entries(form)) if (!((k === 'client_id' || k === 'client_secret') && v === '')) out[k] = v;
  return out;
}
