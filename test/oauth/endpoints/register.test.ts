/**
 * POST /oauth2/register (RFC 7591 §3) on its own: the endpoint with its JSON parser and a
 * minimal context, requests made with fastify's inject (no socket, no server process).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import Fastify from 'fastify';
import { jsonParsers } from '../../../src/http/form.js';
import { RateLimiter } from '../../../src/http/ratelimit.js';
import type { OAuthContext } from '../../../src/oauth/context.js';
import { registerEndpoint } from '../../../src/oauth/endpoints/register.js';
import { verifyClient, verifyClientSecret } from '../../../src/oauth/registration/client-id.js';
import { RegistrationKeys } from '../../../src/oauth/registration/keys.js';
import { validateClientMetadata } from '../../../src/oauth/registration/metadata.js';
import { HOST, KEY, WEB_INPUT, parts } from '../../helpers/oauth-registration.js';
import { MemoryLogger } from '../../helpers/log.js';

const keys = new RegistrationKeys([KEY], HOST);

async function endpoint(options: { ttlS?: number | null; limit?: number } = {}) {
  const log = new MemoryLogger();
  const ctx = {
    host: { keys, registrationTtlS: options.ttlS ?? null },
    limits: { registration: new RateLimiter(options.limit ?? 0, 60_000) },
    log,
  } as unknown as OAuthContext;
  const app = Fastify();
  await app.register(async (json) => {
    jsonParsers(json);
    json.post('/oauth2/register', registerEndpoint(ctx));
  });
  const post = (body: unknown) =>
    app.inject({ method: 'POST', url: '/oauth2/register', headers: { 'content-type': 'application/json' }, payload: JSON.stringify(body) });
  return { app, log, post };
}

test('201 with the client information: a client_id of this host carrying the metadata, and its secret', async () => {
  const { log, post } = await endpoint({ ttlS: 3600 });
  const before = Math.floor(Date.now() / 1000);
  const res = await post(WEB_INPUT);
  assert.equal(res.statusCode, 201);
  assert.equal(res.headers['content-type'], 'application/json; charset=utf-8');
  const body = res.json() as Record<string, unknown>;
  const { client_id, client_secret, client_secret_expires_at, client_id_issued_at, ...rest } = body;
  assert.deepEqual(rest, { ...validateClientMetadata(WEB_INPUT) });
  assert.deepEqual(await verifyClient(client_id, keys), validateClientMetadata(WEB_INPUT));
  assert.equal(verifyClientSecret(client_id, client_secret, keys), true);
  assert.ok(typeof client_id_issued_at === 'number' && client_id_issued_at >= before && client_id_issued_at <= Math.floor(Date.now() / 1000));
  assert.equal(client_secret_expires_at, client_id_issued_at + 3600, 'the configured TTL');
  assert.equal(parts(client_id as string).payload['exp'], client_id_issued_at + 3600);
  // Another host with the same configured key does not accept it.
  assert.equal(verifyClientSecret(client_id, client_secret, new RegistrationKeys([KEY], 'other.example')), false);
  assert.deepEqual(
    log.entries.filter((e) => e.msg === 'client registered').map((e) => e.obj),
    [{ client: 'Example Chat', uri: 'https://app.example.com/' }],
  );
});

test('without a TTL the secret never expires', async () => {
  const { post } = await endpoint({ ttlS: null });
  const body = (await post(WEB_INPUT)).json() as Record<string, unknown>;
  assert.equal(body['client_secret_expires_at'], 0);
  assert.equal('exp' in parts(body['client_id'] as string).payload, false);
});

test('refused metadata: 400 with the RFC 7591 §3.2.2 error naming the member, logged as refused', async () => {
  const { log, post } = await endpoint();
  const cases = [
    [{ ...WEB_INPUT, redirect_uris: ['http://app.example.com/cb'] }, 'invalid_redirect_uri'],
    [{ ...WEB_INPUT, token_endpoint_auth_method: 'private_key_jwt' }, 'invalid_client_metadata'],
    [{ ...WEB_INPUT, client_name: undefined }, 'invalid_client_metadata'],
    [['not', 'an', 'object'], 'invalid_client_metadata'],
  ] as const;
  for (const [input, error] of cases) {
    const res = await post(input);
    assert.equal(res.statusCode, 400, JSON.stringify(input));
    const body = res.json() as Record<string, unknown>;
    assert.equal(body['error'], error);
    assert.equal(typeof body['error_description'], 'string');
    assert.equal('client_id' in body, false);
  }
  const refused = log.entries.filter((e) => e.msg === 'client registration refused');
  assert.equal(refused.length, cases.length);
  assert.deepEqual(refused[1]!.obj, {
    error: 'invalid_client_metadata',
    reason: 'token_endpoint_auth_method must be one of client_secret_basic, client_secret_post, none',
  });
  assert.equal(refused[0]!.obj['error'], 'invalid_redirect_uri');
  assert.equal(log.entries.some((e) => e.msg === 'client registered'), false);
});

test('over the rate limit: 429 before any metadata is looked at, and not logged as a refused registration', async () => {
  const { log, post } = await endpoint({ limit: 1 });
  assert.equal((await post(WEB_INPUT)).statusCode, 201);
  const res = await post(WEB_INPUT);
  assert.equal(res.statusCode, 429);
  assert.deepEqual(res.json(), { error: 'temporarily_unavailable', error_description: 'too many registrations; try again later' });
  assert.ok(Number(res.headers['retry-after']) > 0);
  // Even invalid metadata gets the 429: the limit comes first.
  assert.equal((await post({})).statusCode, 429);
  assert.equal(log.entries.some((e) => e.msg === 'client registration refused'), false);
});
