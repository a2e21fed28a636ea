/** Shared inputs and assertions of the registration tests. */
import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { isOAuthError } from '../../src/oauth/errors.js';

export const KEY = 'registration-key-0123456789';
export const HOST = 'example.com';
export const NOW = 1_800_000_000;

export const WEB_INPUT = Object.freeze({
  client_name: 'Example Chat',
  client_uri: 'https://app.example.com/',
  redirect_uris: ['https://app.example.com/cb'],
});

/** DESIGN.md's formulas, written independently of src/ with node:crypto only. */
export function designPerHostKey(key: string, host: string): Buffer {
  return createHmac('sha256', Buffer.from(key, 'utf8')).update(Buffer.from(host, 'utf8')).digest();
}
export function designClientSecret(key: string, host: string, clientId: string): string {
  return createHmac('sha256', designPerHostKey(key, host)).update(Buffer.from(clientId, 'utf8')).digest('hex');
}

export const b64json = (v: unknown): string => Buffer.from(JSON.stringify(v), 'utf8').toString('base64url');
export const unb64json = (s: string): Record<string, unknown> => JSON.parse(Buffer.from(s, 'base64url').toString('utf8'));

/** The three parts of a compact JWS, decoded without any library. */
export function parts(jws: string): { header: Record<string, unknown>; payload: Record<string, unknown>; sig: string } {
  const [h, p, sig] = jws.split('.');
  assert.equal(jws.split('.').length, 3);
  return { header: unb64json(h!), payload: unb64json(p!), sig: sig! };
}

/** Asserts the uniform rejection of verifyClient and returns its cause. */
export async function assertInvalidClient(p: Promise<unknown>, label = ''): Promise<unknown> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(isOAuthError(caught), `${label}: expected an OAuthError, got ${String(caught)}`);
  assert.equal(caught.error, 'invalid_client', label);
  assert.equal(caught.description, 'unknown or invalid client', label);
  assert.equal(caught.status, 401, label);
  assert.equal(caught.expose, true, label);
  assert.notEqual(caught.cause, undefined, `${label}: the reason is kept for the log`);
  return caught.cause;
}

/** A compact JWS signed with HMAC-SHA256 by hand (RFC 7515 §5.1), whatever its header says. */
export function handSignHs256(header: unknown, payload: unknown, key: Uint8Array): string {
  const input = `${b64json(header)}.${b64json(payload)}`;
  return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
}
