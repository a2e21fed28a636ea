import assert from 'node:assert/strict';
import { test } from 'node:test';
import { isOAuthError } from '../../../src/oauth/errors.js';
import { METADATA_LIMITS, validateClientMetadata } from '../../../src/oauth/registration/metadata.js';

const DEVICE = 'urn:ietf:params:oauth:grant-type:device_code';
const WEB = Object.freeze({
  client_name: 'Example Chat',
  client_uri: 'https://app.example.com/',
  redirect_uris: ['https://app.example.com/cb'],
});
const NATIVE_MSG =
  'must be http on 127.0.0.1 or [::1] (RFC 8252 section 7.3) or use a private-use scheme containing a dot (RFC 8252 section 7.1) (application_type native)';
// RFC 6749 §5.2 character set of error_description.
const NQSCHAR = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

/** WEB with `patch` applied; an undefined value removes the member. */
function web(patch: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...WEB };
  for (const [k, v] of Object.entries(patch)) {
    if (v === undefined) delete out[k];
    else out[k] = v;
  }
  return out;
}

/** 'ok', or "error: description". */
function outcome(input: unknown): string {
  try {
    validateClientMetadata(input);
    return 'ok';
  } catch (err) {
    if (!isOAuthError(err)) throw err;
    assert.match(err.description, NQSCHAR);
    assert.equal(err.status, 400);
    return `${err.error}: ${err.description}`;
  }
}

const GRANTS = `authorization_code, refresh_token, ${DEVICE}, password`;
const meta = (d: string): string => `invalid_client_metadata: ${d}`;
const redir = (d: string): string => `invalid_redirect_uri: ${d}`;

test('defaults are filled in and the result is frozen', () => {
  const m = validateClientMetadata(WEB);
  assert.deepEqual(m, {
    client_name: 'Example Chat',
    client_uri: 'https://app.example.com/',
    redirect_uris: ['https://app.example.com/cb'],
    application_type: 'web',
    token_endpoint_auth_method: 'client_secret_basic',
    grant_types: ['authorization_code'],
    response_types: ['code'],
  });
  assert.ok(Object.isFrozen(m));
  assert.ok(Object.isFrozen(m.redirect_uris) && Object.isFrozen(m.grant_types) && Object.isFrozen(m.response_types));
  assert.notEqual(m.redirect_uris, WEB.redirect_uris, 'not aliased to the input');
});

test('every optional member is kept, normalized output is stable under re-validation', () => {
  const full = web({
    redirect_uris: ['https://app.example.com/cb', 'https://app.example.com:8443/other?x=1'],
    token_endpoint_auth_method: 'client_secret_post',
    grant_types: ['authorization_code', 'refresh_token'],
    response_types: ['code'],
    application_type: 'web',
    scope: 'xmpp openid offline_access',
    logo_uri: 'https://app.example.com/logo.png',
    tos_uri: 'https://app.example.com/tos',
    policy_uri: 'https://app.example.com/privacy',
    software_id: '4NRB1-0XZABZI9E6-5SM3R',
    software_version: '2.3.1',
    contacts: ['dev@example.com', 'https://app.example.com/contact'],
  });
  const m = validateClientMetadata(full);
  assert.deepEqual(m, full);
  assert.deepEqual(validateClientMetadata(m), m);
  assert.ok(Object.isFrozen(m.contacts));
});

test('unknown metadata is ignored and dropped (RFC 7591 §2), null means absent', () => {
  const m = validateClientMetadata(
    web({
      'client_name#fr': 'Exemple',
      jwks_uri: 'https://evil.example/jwks',
      nonce: 'mine',
      iat: 1,
      exp: 2,
      client_id: 'chosen',
      client_secret: 'chosen',
      scope: null,
      logo_uri: null,
    }),
  );
  assert.deepEqual(Object.keys(m).sort(), [
    'application_type',
    'client_name',
    'client_uri',
    'grant_types',
    'redirect_uris',
    'response_types',
    'token_endpoint_auth_method',
  ]);
});

test('only own members are read: nothing comes from a prototype', () => {
  const parsed = JSON.parse('{"__proto__": {"client_name": "x"}, "client_uri": "https://app.example.com/"}');
  assert.equal(outcome(parsed), meta('client_name is required'));
  assert.equal(outcome(Object.create(WEB)), meta('client_name is required'));
});

const ACCEPTED: [string, Record<string, unknown>][] = [
  ['uppercase letters in the host compare case-insensitively', web({ client_uri: 'https://App.Example.com/' })],
  ['web redirect with another port on the same host', web({ redirect_uris: ['https://app.example.com:8443/cb'] })],
  ['native: loopback IPv4 with a port (RFC 8252 §7.3)', web({ redirect_uris: ['http://127.0.0.1:8080/cb'] })],
  ['native: loopback IPv6 with a port', web({ redirect_uris: ['http://[::1]:51004/oauth'] })],
  ['native: loopback without a port', web({ redirect_uris: ['http://127.0.0.1/'] })],
  ['native: private-use scheme (RFC 8252 §7.1)', web({ redirect_uris: ['com.example.app:/oauth2redirect'] })],
  ['native: private-use scheme with an authority', web({ redirect_uris: ['im.conversations.app://callback'] })],
  ['native: explicit, mixed kinds', web({ application_type: 'native', redirect_uris: ['com.example.app:/cb', 'http://[::1]/cb'] })],
  ['device grant alone needs no redirect URI', web({ grant_types: [DEVICE], redirect_uris: undefined })],
  ['device grant, web client said so explicitly', web({ grant_types: ['authorization_code', DEVICE], application_type: 'web' })],
  ['public client (PKCE enforced later)', web({ token_endpoint_auth_method: 'none' })],
  ['password grant', web({ grant_types: ['password'], redirect_uris: undefined })],
  ['every scope', web({ scope: 'xmpp xmpp:client:normal xmpp:account:read xmpp:account:write openid profile offline_access' })],
  ['non-ASCII client name', web({ client_name: 'Démo 🗨 Chat' })],
  ['client name of exactly 100 characters', web({ client_name: 'n'.repeat(100) })],
  ['empty contacts list', web({ contacts: [] })],
];

test('accepted metadata', () => {
  for (const [label, input] of ACCEPTED) assert.equal(outcome(input), 'ok', label);
});

test('application_type is inferred like Prosody', () => {
  const type = (input: Record<string, unknown>): string => validateClientMetadata(input).application_type;
  assert.equal(type(WEB), 'web');
  assert.equal(type(web({ redirect_uris: ['http://127.0.0.1:1/cb'] })), 'native');
  assert.equal(type(web({ redirect_uris: ['com.example.app:/cb'] })), 'native');
  assert.equal(type(web({ grant_types: [DEVICE], redirect_uris: undefined })), 'native');
  assert.equal(type(web({ grant_types: ['password'], redirect_uris: undefined })), 'web');
});

test('response_types default follows grant_types (RFC 7591 §2.1)', () => {
  assert.deepEqual(validateClientMetadata(web({ grant_types: [DEVICE], redirect_uris: undefined })).response_types, []);
  assert.deepEqual(validateClientMetadata(WEB).response_types, ['code']);
});

// mod_auth_openidc 2.4.12's own registration (OIDCMetadataDir, no client configured), as
// measured against Gatehouse: every response type it knows, the implicit grant, no client_uri.
const MOD_AUTH_OPENIDC = Object.freeze({
  client_name: 'mod_auth_openidc',
  redirect_uris: ['http://127.0.0.1:8080/protected/redirect_uri'],
  response_types: ['code', 'id_token', 'id_token token', 'code id_token', 'code token', 'code id_token token'],
  grant_types: ['authorization_code', 'implicit', 'refresh_token'],
  contacts: ['admin@example.org'],
});

test('RFC 7591 §2 replacement: unserved grant and response types are dropped, the rest registered', () => {
  const m = validateClientMetadata(MOD_AUTH_OPENIDC);
  assert.deepEqual(m.grant_types, ['authorization_code', 'refresh_token']);
  assert.deepEqual(m.response_types, ['code'], 'no implicit or hybrid response type is granted');
  assert.equal(m.application_type, 'native', 'an http loopback redirect URI');
  assert.equal(m.client_uri, undefined);
  assert.ok(!('client_uri' in m), 'no made-up client_uri');
  // What was registered validates again unchanged (client_id verification re-validates it).
  assert.deepEqual(validateClientMetadata(JSON.parse(JSON.stringify(m))), m);
  const mixed = validateClientMetadata(web({ response_types: ['token', 'code'], grant_types: ['implicit', 'authorization_code'] }));
  assert.deepEqual([mixed.grant_types, mixed.response_types], [['authorization_code'], ['code']]);
  // Refusals on what is kept still apply: a web client's http redirect is refused.
  assert.equal(outcome({ ...MOD_AUTH_OPENIDC, application_type: 'web' }), redir('redirect_uris[0] must be an https URI (application_type web)'));
});

test('client_uri is optional: without it, web redirect URIs share the first one\'s host', () => {
  const m = validateClientMetadata(web({ client_uri: undefined, redirect_uris: ['https://app.example.com/cb', 'https://app.example.com/cb2'] }));
  assert.equal(m.application_type, 'web');
  assert.ok(!('client_uri' in m));
});

const REFUSED: [string, unknown, string][] = [
  // The object itself.
  ['array body', [], meta('client metadata must be a JSON object')],
  ['null body', null, meta('client metadata must be a JSON object')],
  ['string body', 'client_name=x', meta('client metadata must be a JSON object')],
  // client_name.
  ['client_name missing', web({ client_name: undefined }), meta('client_name is required')],
  ['client_name null', web({ client_name: null }), meta('client_name is required')],
  ['client_name number', web({ client_name: 42 }), meta('client_name must be a string')],
  ['client_name empty', web({ client_name: '' }), meta('client_name must not be empty')],
  ['client_name blank', web({ client_name: '  \t ' }), meta('client_name must not be empty')],
  ['client_name too long', web({ client_name: 'n'.repeat(101) }), meta('client_name must not be longer than 100 characters')],
  ['client_name NUL', web({ client_name: 'a\u0000b' }), meta('client_name must not contain control characters')],
  ['client_name newline', web({ client_name: 'a\nb' }), meta('client_name must not contain control characters')],
  ['client_name bidi override', web({ client_name: 'moc.\u202eevil' }), meta('client_name must not contain control characters')],
  ['client_name lone surrogate', web({ client_name: 'a\ud800' }), meta('client_name must not contain control characters')],
  // client_uri.
  ['client_uri missing, informative URI given', web({ client_uri: undefined, tos_uri: 'https://app.example.com/tos' }), meta('tos_uri requires client_uri')],
  ['client_uri missing, web redirect URIs on two hosts', web({ client_uri: undefined, redirect_uris: ['https://app.example.com/cb', 'https://evil.example/cb'] }), redir('redirect_uris[1] must be on the redirect_uris[0] host')],
  ['client_uri missing, web logout URI on another host', web({ client_uri: undefined, post_logout_redirect_uris: ['https://evil.example/bye'] }), redir('post_logout_redirect_uris[0] must be on the redirect_uris[0] host')],
  ['client_uri missing, web http redirect', web({ client_uri: undefined, application_type: 'web', redirect_uris: ['http://127.0.0.1:8080/cb'] }), redir('redirect_uris[0] must be an https URI (application_type web)')],
  ['client_uri number', web({ client_uri: 1 }), meta('client_uri must be a string')],
  ['client_uri empty', web({ client_uri: '' }), meta('client_uri must not be empty')],
  ['client_uri too long', web({ client_uri: `https://app.example.com/${'p'.repeat(489)}` }), meta('client_uri must not be longer than 512 characters')],
  ['client_uri http', web({ client_uri: 'http://app.example.com/' }), meta('client_uri must be an https URI')],
  ['client_uri relative', web({ client_uri: 'app.example.com' }), meta('client_uri must be an absolute URI')],
  ['client_uri without //', web({ client_uri: 'https:app.example.com' }), meta('client_uri must have a host')],
  ['client_uri localhost', web({ client_uri: 'https://localhost/' }), meta('client_uri must not be on a loopback host')],
  ['client_uri .localhost', web({ client_uri: 'https://app.localhost/' }), meta('client_uri must not be on a loopback host')],
  ['client_uri 127.0.0.1', web({ client_uri: 'https://127.0.0.1/' }), meta('client_uri must not be on a loopback host')],
  ['client_uri 127.1.2.3', web({ client_uri: 'https://127.1.2.3:8443/' }), meta('client_uri must not be on a loopback host')],
  ['client_uri [::1]', web({ client_uri: 'https://[::1]/' }), meta('client_uri must not be on a loopback host')],
  ['client_uri IPv4-mapped loopback', web({ client_uri: 'https://[::ffff:7f00:1]/' }), meta('client_uri must not be on a loopback host')],
  ['client_uri hex IPv4', web({ client_uri: 'https://0x7f.1/' }), meta('client_uri must be in normalized form (lowercase host, no default port)')],
  ['client_uri default port', web({ client_uri: 'https://app.example.com:443/' }), meta('client_uri must be in normalized form (lowercase host, no default port)')],
  ['client_uri percent-encoded host', web({ client_uri: 'https://app.exa%6dple.com/' }), meta('client_uri must be in normalized form (lowercase host, no default port)')],
  ['client_uri fragment', web({ client_uri: 'https://app.example.com/#top' }), meta('client_uri must not contain a fragment')],
  ['client_uri userinfo', web({ client_uri: 'https://me@app.example.com/' }), meta('client_uri must not contain user information')],
  ['client_uri tab', web({ client_uri: 'https://app.exam\tple.com/' }), meta('client_uri must contain only URI characters (RFC 3986)')],
  ['client_uri backslash', web({ client_uri: 'https://evil.example\\@app.example.com/' }), meta('client_uri must contain only URI characters (RFC 3986)')],
  ['client_uri bad escape', web({ client_uri: 'https://app.example.com/%zz' }), meta('client_uri must contain only URI characters (RFC 3986)')],
  ['client_uri non-ASCII', web({ client_uri: 'https://bücher.example/' }), meta('client_uri must contain only URI characters (RFC 3986)')],
  // grant_types and response_types.
  ['grant_types string', web({ grant_types: 'authorization_code' }), meta('grant_types must be an array of strings')],
  ['grant_types empty', web({ grant_types: [] }), meta('grant_types must not be empty')],
  ['grant_types implicit alone', web({ grant_types: ['implicit'] }), meta(`grant_types must include a supported grant type: ${GRANTS}`)],
  ['grant_types client_credentials', web({ grant_types: ['client_credentials'] }), meta(`grant_types must include a supported grant type: ${GRANTS}`)],
  ['grant_types implicit with response_types token', web({ grant_types: ['implicit'], response_types: ['token'] }), meta(`grant_types must include a supported grant type: ${GRANTS}`)],
  ['grant_types duplicate', web({ grant_types: ['refresh_token', 'refresh_token'] }), meta('grant_types must not contain duplicates')],
  ['response_types token (implicit)', web({ response_types: ['token'] }), meta('response_types[0] is not supported: only code is (no implicit flow, RFC 9700 section 2.1.2)')],
  ['response_types token and id_token token', web({ response_types: ['id_token token', 'token'] }), meta('response_types[0] is not supported: only code is (no implicit flow, RFC 9700 section 2.1.2)')],
  ['response_types hybrid', web({ response_types: ['code id_token'] }), meta('response_types[0] is not supported: only code is (no implicit flow, RFC 9700 section 2.1.2)')],
  ['response_types code but grant implicit only', web({ grant_types: ['implicit'], response_types: ['code', 'token'] }), meta(`grant_types must include a supported grant type: ${GRANTS}`)],
  ['response_types code with implicit trimmed away and no authorization_code', web({ grant_types: ['refresh_token', 'implicit'], response_types: ['code', 'token'] }), meta('response_types code requires grant_types authorization_code')],
  ['response_types empty with authorization_code', web({ response_types: [] }), meta('grant_types authorization_code requires response_types code')],
  ['response_types code without authorization_code', web({ grant_types: [DEVICE], response_types: ['code'], redirect_uris: undefined }), meta('response_types code requires grant_types authorization_code')],
  // token_endpoint_auth_method.
  ['auth method private_key_jwt', web({ token_endpoint_auth_method: 'private_key_jwt' }), meta('token_endpoint_auth_method must be one of client_secret_basic, client_secret_post, none')],
  ['auth method array', web({ token_endpoint_auth_method: ['none'] }), meta('token_endpoint_auth_method must be one of client_secret_basic, client_secret_post, none')],
  // application_type.
  ['application_type desktop', web({ application_type: 'desktop' }), meta('application_type must be web or native')],
  // redirect_uris: shape.
  ['redirect_uris missing with authorization_code', web({ redirect_uris: undefined }), meta('redirect_uris must contain at least one URI when grant_types includes authorization_code')],
  ['redirect_uris empty with authorization_code', web({ redirect_uris: [] }), meta('redirect_uris must contain at least one URI when grant_types includes authorization_code')],
  ['redirect_uris string', web({ redirect_uris: 'https://app.example.com/cb' }), redir('redirect_uris must be an array of strings')],
  ['redirect_uris number item', web({ redirect_uris: [1] }), redir('redirect_uris must be an array of strings')],
  ['redirect_uris duplicate', web({ redirect_uris: ['https://app.example.com/cb', 'https://app.example.com/cb'] }), redir('redirect_uris must not contain duplicates')],
  ['redirect_uris too many', web({ redirect_uris: Array.from({ length: 9 }, (_, i) => `https://app.example.com/${i}`) }), redir('redirect_uris must not contain more than 8 items')],
  ['redirect URI empty', web({ redirect_uris: [''] }), redir('redirect_uris[0] must not be empty')],
  ['redirect URI too long', web({ redirect_uris: [`https://app.example.com/${'p'.repeat(489)}`] }), redir('redirect_uris[0] must not be longer than 512 characters')],
  ['redirect URI relative', web({ redirect_uris: ['/cb'] }), redir('redirect_uris[0] must be an absolute URI')],
  ['redirect URI fragment', web({ redirect_uris: ['https://app.example.com/cb#f'] }), redir('redirect_uris[0] must not contain a fragment')],
  ['redirect URI empty fragment', web({ redirect_uris: ['com.example.app:/cb#'] }), redir('redirect_uris[0] must not contain a fragment')],
  ['redirect URI userinfo', web({ redirect_uris: ['https://app.example.com@evil.example/cb'] }), redir('redirect_uris[0] must not contain user information')],
  ['loopback URI userinfo', web({ redirect_uris: ['http://user:pw@127.0.0.1/cb'] }), redir('redirect_uris[0] must not contain user information')],
  ['redirect URI space', web({ redirect_uris: ['https://app.example.com/c b'] }), redir('redirect_uris[0] must contain only URI characters (RFC 3986)')],
  ['redirect URI newline', web({ redirect_uris: ['https://app.example.com/cb\n'] }), redir('redirect_uris[0] must contain only URI characters (RFC 3986)')],
  ['redirect URI half a percent escape', web({ redirect_uris: ['https://app.example.com/cb%4'] }), redir('redirect_uris[0] must contain only URI characters (RFC 3986)')],
  ['redirect URI percent escape with one hex digit', web({ redirect_uris: ['https://app.example.com/cb%4g'] }), redir('redirect_uris[0] must contain only URI characters (RFC 3986)')],
  ['redirect URI unclosed IPv6 literal', web({ redirect_uris: ['http://[::1/cb'] }), redir('redirect_uris[0] must be an absolute URI')],
  ['redirect URI port beyond 65535', web({ redirect_uris: ['https://app.example.com:65536/cb'] }), redir('redirect_uris[0] must be an absolute URI')],
  ['loopback URI without //', web({ application_type: 'native', redirect_uris: ['http:127.0.0.1/cb'] }), redir('redirect_uris[0] must have a host')],
  ['loopback URI without // (inferred)', web({ redirect_uris: ['http:[::1]/cb'] }), redir('redirect_uris[0] must have a host')],
  ['redirect URI non-canonical IPv6', web({ redirect_uris: ['http://[0:0:0:0:0:0:0:1]/cb'] }), redir('redirect_uris[0] must be in normalized form (lowercase host, no default port)')],
  // redirect_uris: web.
  ['web: other host', web({ redirect_uris: ['https://evil.example/cb'] }), redir('redirect_uris[0] must be on the client_uri host')],
  ['web: subdomain of the client host', web({ redirect_uris: ['https://evil.app.example.com/cb'] }), redir('redirect_uris[0] must be on the client_uri host')],
  ['web: parent domain', web({ redirect_uris: ['https://example.com/cb'] }), redir('redirect_uris[0] must be on the client_uri host')],
  ['web: http on the client host', web({ redirect_uris: ['http://app.example.com/cb'] }), redir('redirect_uris[0] must be an https URI (application_type web)')],
  ['web: second URI is loopback', web({ redirect_uris: ['https://app.example.com/cb', 'http://127.0.0.1/cb'] }), redir('redirect_uris[1] must be an https URI (application_type web)')],
  ['web explicit: loopback', web({ application_type: 'web', redirect_uris: ['http://127.0.0.1:8080/cb'] }), redir('redirect_uris[0] must be an https URI (application_type web)')],
  ['web explicit: private-use', web({ application_type: 'web', redirect_uris: ['com.example.app:/cb'] }), redir('redirect_uris[0] must be an https URI (application_type web)')],
  ['web: javascript scheme', web({ redirect_uris: ['javascript:alert(1)'] }), redir('redirect_uris[0] must be an https URI (application_type web)')],
  // redirect_uris: native.
  ['native: localhost (RFC 8252 §8.3)', web({ redirect_uris: ['http://localhost:8080/cb'] }), redir('redirect_uris[0] must use the loopback IP literal 127.0.0.1 or [::1], not localhost (RFC 8252 section 8.3)')],
  ['native explicit: localhost subdomain', web({ application_type: 'native', redirect_uris: ['http://app.localhost/cb'] }), redir('redirect_uris[0] must use the loopback IP literal 127.0.0.1 or [::1], not localhost (RFC 8252 section 8.3)')],
  ['native: second URI is https', web({ redirect_uris: ['com.example.app:/cb', 'https://app.example.com/cb'] }), redir(`redirect_uris[1] ${NATIVE_MSG}`)],
  ['native explicit: https', web({ application_type: 'native' }), redir(`redirect_uris[0] ${NATIVE_MSG}`)],
  ['native explicit: https on loopback', web({ application_type: 'native', redirect_uris: ['https://127.0.0.1/cb'] }), redir(`redirect_uris[0] ${NATIVE_MSG}`)],
  ['native explicit: 127.0.0.2', web({ application_type: 'native', redirect_uris: ['http://127.0.0.2/cb'] }), redir(`redirect_uris[0] ${NATIVE_MSG}`)],
  ['native explicit: http on a public host', web({ application_type: 'native', redirect_uris: ['http://app.example.com/cb'] }), redir(`redirect_uris[0] ${NATIVE_MSG}`)],
  ['native explicit: scheme without a dot', web({ application_type: 'native', redirect_uris: ['myapp:/cb'] }), redir(`redirect_uris[0] ${NATIVE_MSG}`)],
  ['native explicit: out-of-band URN', web({ application_type: 'native', redirect_uris: ['urn:ietf:wg:oauth:2.0:oob'] }), redir(`redirect_uris[0] ${NATIVE_MSG}`)],
  ['native explicit: data URI', web({ application_type: 'native', redirect_uris: ['data:text/html,hi'] }), redir(`redirect_uris[0] ${NATIVE_MSG}`)],
  ['native inferred from the device grant: https redirect', web({ grant_types: ['authorization_code', DEVICE] }), redir(`redirect_uris[0] ${NATIVE_MSG}`)],
  // Informative URIs.
  ['logo_uri http', web({ logo_uri: 'http://app.example.com/logo.png' }), meta('logo_uri must be an https URI')],
  ['tos_uri other host', web({ tos_uri: 'https://evil.example/tos' }), meta('tos_uri must be on the client_uri host')],
  ['policy_uri number', web({ policy_uri: 42 }), meta('policy_uri must be a string')],
  ['policy_uri fragment', web({ policy_uri: 'https://app.example.com/p#x' }), meta('policy_uri must not contain a fragment')],
  ['logo_uri data', web({ logo_uri: 'data:image/png;base64,AAAA' }), meta('logo_uri must be an https URI')],
  // scope.
  ['scope array', web({ scope: ['xmpp'] }), meta('scope must be a string')],
  ['scope empty', web({ scope: '' }), meta('scope must be scope values separated by single spaces')],
  ['scope double space', web({ scope: 'xmpp  openid' }), meta('scope must be scope values separated by single spaces')],
  ['scope leading space', web({ scope: ' xmpp' }), meta('scope must be scope values separated by single spaces')],
  ['scope unknown', web({ scope: 'xmpp admin' }), meta('scope values must be among: xmpp xmpp:client:normal xmpp:account:read xmpp:account:write imap smtp openid profile offline_access')],
  ['scope tab-separated', web({ scope: 'xmpp\topenid' }), meta('scope values must be among: xmpp xmpp:client:normal xmpp:account:read xmpp:account:write imap smtp openid profile offline_access')],
  ['scope repeated', web({ scope: 'xmpp openid xmpp' }), meta('scope must not repeat a value')],
  // software_id, software_version, contacts.
  ['software_id number', web({ software_id: 7 }), meta('software_id must be a string')],
  ['software_version too long', web({ software_version: '1'.repeat(101) }), meta('software_version must not be longer than 100 characters')],
  ['contacts string', web({ contacts: 'dev@example.com' }), meta('contacts must be an array of strings')],
  ['contacts too many', web({ contacts: ['a@x', 'b@x', 'c@x', 'd@x', 'e@x'] }), meta('contacts must not contain more than 4 items')],
  ['contact with a newline', web({ contacts: ['ok@x', 'a@x\r\nBcc: b@x'] }), meta('contacts[1] must not contain control characters')],
  // Total size: it becomes a client_id.
  [
    'total size',
    web({ redirect_uris: Array.from({ length: 4 }, (_, i) => `https://app.example.com/${i}/${'p'.repeat(300)}`) }),
    meta(`client metadata must not be larger than ${METADATA_LIMITS.totalBytes} bytes once normalized`),
  ],
];

test('client_uri on a loopback host in any spelling is refused; a public name that starts with 127 is not', () => {
  // Positive controls: ordinary names that merely look like loopback.
  for (const host of ['127.0.0.1.nip.example', 'localhost.example.com', '128.0.0.1', '[::ffff:8000:1]']) {
    assert.equal(outcome(web({ client_uri: `https://${host}/`, redirect_uris: [`https://${host}/cb`] })), 'ok', host);
  }
  for (const host of ['localhost.', 'app.localhost.', '127.10.200.30', '127.255.255.254', '0.0.0.0', '[::]', '[::ffff:7f00:100]', '[::ffff:7fff:ffff]', '[::ffff:0:0]']) {
    assert.equal(outcome(web({ client_uri: `https://${host}/`, redirect_uris: [`https://${host}/cb`] })), meta('client_uri must not be on a loopback host'), host);
  }
});

test('refused metadata: exact error and description (RFC 7591 §3.2.2)', () => {
  for (const [label, input, expected] of REFUSED) assert.equal(outcome(input), expected, label);
});

test('the size limit is inclusive: the largest accepted metadata is exactly the limit', () => {
  let largest: ReturnType<typeof validateClientMetadata> | undefined;
  for (let n = 250; n < 400; n++) {
    const input = web({ redirect_uris: Array.from({ length: 3 }, (_, i) => `https://app.example.com/${i}/${'p'.repeat(i === 2 ? n : 300)}`) });
    try {
      largest = validateClientMetadata(input);
    } catch (err) {
      assert.equal(outcome(input), meta(`client metadata must not be larger than ${METADATA_LIMITS.totalBytes} bytes once normalized`));
      break;
    }
  }
  assert.equal(Buffer.byteLength(JSON.stringify(largest)), METADATA_LIMITS.totalBytes);
});

test('id_token_signed_response_alg: only the one the server signs with, and it is not stored', () => {
  const m = validateClientMetadata(web({ id_token_signed_response_alg: 'ES256' }));
  assert.equal('id_token_signed_response_alg' in m, false);
  assert.equal(outcome(web({ id_token_signed_response_alg: null })), 'ok');
  for (const alg of ['none', 'HS256', 'es256', 'RS256', 1]) {
    assert.equal(outcome(web({ id_token_signed_response_alg: alg })), meta('id_token_signed_response_alg must be ES256'), String(alg));
  }
});

test('post_logout_redirect_uris: kept and frozen, under the redirect URI rules', () => {
  const m = validateClientMetadata(web({ post_logout_redirect_uris: ['https://app.example.com/bye', 'https://app.example.com:8443/bye'] }));
  assert.deepEqual(m.post_logout_redirect_uris, ['https://app.example.com/bye', 'https://app.example.com:8443/bye']);
  assert.ok(Object.isFrozen(m.post_logout_redirect_uris));
  assert.equal('post_logout_redirect_uris' in validateClientMetadata(WEB), false);
  const native = validateClientMetadata(web({ redirect_uris: ['com.example.app:/cb'], post_logout_redirect_uris: ['http://127.0.0.1/bye'] }));
  assert.deepEqual(native.post_logout_redirect_uris, ['http://127.0.0.1/bye']);
  const refused: [unknown, string][] = [
    ['https://app.example.com/bye', redir('post_logout_redirect_uris must be an array of strings')],
    [['https://app.example.com/a', 'https://app.example.com/a'], redir('post_logout_redirect_uris must not contain duplicates')],
    [Array.from({ length: 9 }, (_, i) => `https://app.example.com/${i}`), redir('post_logout_redirect_uris must not contain more than 8 items')],
    [['https://app.example.com/a', ''], redir('post_logout_redirect_uris[1] must not be empty')],
    [['http://app.example.com/bye'], redir('post_logout_redirect_uris[0] must be an https URI (application_type web)')],
    [['https://evil.example/bye'], redir('post_logout_redirect_uris[0] must be on the client_uri host')],
    [['https://app.example.com/bye#x'], redir('post_logout_redirect_uris[0] must not contain a fragment')],
  ];
  for (const [uris, expected] of refused) assert.equal(outcome(web({ post_logout_redirect_uris: uris })), expected, JSON.stringify(uris));
});

test('contacts: each one a bounded, non-empty text', () => {
  assert.deepEqual(validateClientMetadata(web({ contacts: ['c'.repeat(100)] })).contacts, ['c'.repeat(100)]);
  assert.equal(outcome(web({ contacts: ['ok@x', 'c'.repeat(101)] })), meta('contacts[1] must not be longer than 100 characters'));
  assert.equal(outcome(web({ contacts: [' '] })), meta('contacts[0] must not be empty'));
  assert.equal(outcome(web({ contacts: ['a@x', 'a@x'] })), meta('contacts must not contain duplicates'));
  assert.equal(outcome(web({ software_id: 's'.repeat(101) })), meta('software_id must not be longer than 100 characters'));
});

test('the bounds are inclusive: 8 redirect URIs, 4 contacts, URIs of 512 characters; an empty contact list is dropped', () => {
  const eight = Array.from({ length: 8 }, (_, i) => `https://app.example.com/${i}`);
  assert.deepEqual(validateClientMetadata(web({ redirect_uris: eight })).redirect_uris, eight);
  assert.deepEqual(validateClientMetadata(web({ post_logout_redirect_uris: eight })).post_logout_redirect_uris, eight);
  const four = ['a@x', 'b@x', 'c@x', 'd@x'];
  assert.deepEqual(validateClientMetadata(web({ contacts: four })).contacts, four);
  const uri512 = `https://app.example.com/${'p'.repeat(488)}`;
  assert.equal(uri512.length, METADATA_LIMITS.uri);
  assert.equal(validateClientMetadata(web({ client_uri: uri512 })).client_uri, uri512);
  assert.deepEqual(validateClientMetadata(web({ redirect_uris: [uri512] })).redirect_uris, [uri512]);
  assert.equal(validateClientMetadata(web({ tos_uri: uri512 })).tos_uri, uri512);
  assert.equal('contacts' in validateClientMetadata(web({ contacts: [] })), false);
  assert.deepEqual(validateClientMetadata(web({ scope: 'imap smtp' })).scope, 'imap smtp');
});

test('every control and bidi character is refused in text, the characters around them are not', () => {
  for (const c of ['\u0000', '\u001f', '\u007f', '\u0080', '\u0085', '\u009f', '\u202a', '\u202b', '\u202c', '\u202d', '\u202e', '\u2066', '\u2067', '\u2068', '\u2069']) {
    assert.equal(outcome(web({ client_name: `a${c}b` })), meta('client_name must not contain control characters'), c.codePointAt(0)!.toString(16));
  }
  for (const c of ['\u00a0', '\u2029', '\u202f', '\u2065', '\u206a', '~']) {
    assert.equal(outcome(web({ client_name: `a${c}b` })), 'ok', c.codePointAt(0)!.toString(16));
  }
});

test('a client without client_uri or redirect URIs (device grant only); explicit empty response_types without the code grant', () => {
  const device = validateClientMetadata({ client_name: 'TV app', grant_types: [DEVICE] });
  assert.deepEqual([device.application_type, device.redirect_uris, device.response_types], ['native', [], []]);
  assert.deepEqual(validateClientMetadata(web({ grant_types: [DEVICE], response_types: [], redirect_uris: undefined })).response_types, []);
  assert.equal(outcome(web({ response_types: 'code' })), meta('response_types must be an array of strings'));
});
