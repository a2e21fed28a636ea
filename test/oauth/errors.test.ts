import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  OAuthError,
  OAuthErrorCodes,
  accessDenied,
  authorizationPending,
  expiredToken,
  insufficientScope,
  invalidClient,
  invalidClientMetadata,
  invalidGrant,
  invalidRedirectUri,
  invalidRequest,
  invalidScope,
  invalidToken,
  isOAuthError,
  isSafeDescription,
  slowDown,
  temporarilyUnavailable,
  unauthorizedClient,
  unsupportedGrantType,
  type OAuthErrorCode,
} from '../../src/oauth/errors.js';
import { renderError } from '../../src/oauth/respond/render-error.js';

// RFC 6749 §5.2: error = 1*NQSCHAR; error_description = 1*NQSCHAR.
const NQSCHAR = /^[\x20\x21\x23-\x5b\x5d-\x7e]+$/;

test('catalogue: every code is a well-formed error value with a 4xx/5xx status and a safe description', () => {
  const codes = Object.keys(OAuthErrorCodes) as OAuthErrorCode[];
  assert.ok(codes.length >= 20);
  for (const code of codes) {
    const entry = OAuthErrorCodes[code];
    assert.match(code, /^[a-z_]+$/, code);
    assert.match(code, NQSCHAR, code);
    assert.ok(entry.status >= 400 && entry.status <= 599, code);
    assert.match(entry.description, NQSCHAR, code);
    const err = new OAuthError(code);
    assert.equal(err.error, code);
    assert.equal(err.status, entry.status);
    assert.equal(err.description, entry.description);
    assert.equal(err.expose, code !== 'server_error', code);
  }
});

test('catalogue: the RFC statuses', () => {
  assert.equal(OAuthErrorCodes.invalid_request.status, 400);
  assert.equal(OAuthErrorCodes.invalid_client.status, 401); // RFC 6749 §5.2
  assert.equal(OAuthErrorCodes.invalid_token.status, 401); // RFC 6750 §3.1
  assert.equal(OAuthErrorCodes.insufficient_scope.status, 403); // RFC 6750 §3.1
  assert.equal(OAuthErrorCodes.invalid_redirect_uri.status, 400); // RFC 7591 §3.2.2
  assert.equal(OAuthErrorCodes.invalid_client_metadata.status, 400);
  assert.equal(OAuthErrorCodes.server_error.status, 500);
  assert.equal(OAuthErrorCodes.temporarily_unavailable.status, 503);
});

test('helper constructors make the error they are named after, with the cause kept', () => {
  const cause = new Error('why');
  const rows: [OAuthError, OAuthErrorCode][] = [
    [invalidRequest('d', cause), 'invalid_request'],
    [invalidClient('d', cause), 'invalid_client'],
    [invalidGrant('d', cause), 'invalid_grant'],
    [invalidScope('d', cause), 'invalid_scope'],
    [unauthorizedClient('d', cause), 'unauthorized_client'],
    [unsupportedGrantType('d', cause), 'unsupported_grant_type'],
    [accessDenied('d', cause), 'access_denied'],
    [invalidRedirectUri('d', cause), 'invalid_redirect_uri'],
    [invalidClientMetadata('d', cause), 'invalid_client_metadata'],
    [temporarilyUnavailable('d', cause), 'temporarily_unavailable'],
    [invalidToken('d', cause), 'invalid_token'],
    [insufficientScope('d', cause), 'insufficient_scope'],
    [authorizationPending('d', cause), 'authorization_pending'],
    [slowDown('d', cause), 'slow_down'],
    [expiredToken('d', cause), 'expired_token'],
  ];
  for (const [err, code] of rows) {
    assert.ok(isOAuthError(err));
    assert.ok(err instanceof Error);
    assert.equal(err.name, 'OAuthError');
    assert.equal(err.error, code);
    assert.equal(err.description, 'd');
    assert.equal(err.cause, cause);
    assert.equal(err.expose, true);
  }
  const s = new OAuthError('server_error', undefined, { cause });
  assert.equal(s.error, 'server_error');
  assert.equal(s.expose, false);
  assert.equal(s.cause, cause);
  assert.equal(invalidRequest().description, OAuthErrorCodes.invalid_request.description);
  assert.equal('cause' in invalidRequest(), false);
  assert.equal(invalidRequest('d', undefined, 415).status, 415);
  assert.equal(temporarilyUnavailable('d', undefined, 429).status, 429);
  assert.equal(invalidRequest('d').status, OAuthErrorCodes.invalid_request.status);
});

test('status and expose can be overridden', () => {
  const err = new OAuthError('invalid_client', undefined, { status: 400, expose: false });
  assert.equal(err.status, 400);
  assert.equal(err.expose, false);
});

test('misuse is a TypeError: unknown code, description outside the RFC 6749 §5.2 character set', () => {
  assert.throws(() => new OAuthError('nope' as OAuthErrorCode), TypeError);
  assert.throws(() => new OAuthError('toString' as OAuthErrorCode), TypeError);
  for (const d of ['say "hi"', 'back\\slash', 'line\nbreak', 'café', '\t']) {
    assert.equal(isSafeDescription(d), false, JSON.stringify(d));
    assert.throws(() => invalidRequest(d), TypeError, JSON.stringify(d));
  }
  assert.equal(isSafeDescription('redirect_uris[0] must be https (RFC 8252 section 7.3)'), true);
});

test('renderError: exposed errors as they are; anything else as a bare server_error', () => {
  assert.deepEqual(renderError(invalidClientMetadata('client_name is required')), {
    status: 400,
    body: { error: 'invalid_client_metadata', error_description: 'client_name is required' },
  });
  assert.deepEqual(renderError(new OAuthError('invalid_client')), {
    status: 401,
    body: { error: 'invalid_client', error_description: 'client authentication failed' },
  });
  const bare = { status: 500, body: { error: 'server_error', error_description: OAuthErrorCodes.server_error.description } };
  assert.deepEqual(renderError(new OAuthError('server_error', undefined, { cause: new Error('db password is hunter2') })), bare);
  assert.deepEqual(renderError(new OAuthError('invalid_grant', 'internal detail', { expose: false })), bare);
  assert.deepEqual(renderError(new Error('secret stack')), bare);
  assert.deepEqual(renderError('string thrown'), bare);
  assert.deepEqual(renderError(undefined), bare);
});
