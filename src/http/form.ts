/**
 * Form bodies (`application/x-www-form-urlencoded`), for the auth API and the OAuth endpoints.
 * Prosody's mod_auth_http labels its POST bodies `application/x/www-form-urlencoded` (sic), so
 * that spelling is accepted beside the right one. A parameter given twice is refused (RFC 6749
 * §3.1: "Request and response parameters MUST NOT be included more than once"): which copy
 * a script or a check would see is not ours to guess.
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

export class DuplicateParameterError extends Error {
  readonly statusCode = 400;
  readonly code = 'ERR_DUPLICATE_PARAMETER';
}

/** Parse `a=1&b=2` into a null-prototype record; throws on a repeated name. */
export function parseForm(text: string): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  for (const [k, v] of new URLSearchParams(text)) {
    if (k in out) throw new DuplicateParameterError(`parameter "${k}" given more than once`);
    out[k] = v;
  }
  return out;
}

const FORM = 'application/x-www-form-urlencoded';
/** mod_auth_http's spelling: not a valid media type (two slashes), so no parser can name it. */
const MISSPELLED_FORM = /^application\/x\/www-form-urlencoded(?=\s*(;|$))/i;

/**
 * For the root app's request hook (app.ts), before any body is read: the misspelled form type
 * becomes the right one, parameters kept. Other types are left alone.
 */
export function correctFormType(req: IncomingMessage): void {
  const type = req.headers['content-type'];
  if (type !== undefined && MISSPELLED_FORM.test(type)) req.headers['content-type'] = type.replace(MISSPELLED_FORM, FORM);
}

/** In this plugin's context, form bodies only (JSON and text get 415), unless `keepJson`. */
export function formParsers(app: FastifyInstance, keepJson = false): void {
  if (!keepJson) app.removeAllContentTypeParsers();
  app.addContentTypeParser(FORM, { parseAs: 'string' }, (_req, body, done) => {
    try {
      done(null, parseForm(body as string));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** A string field of a parsed form body ('' when absent, not a string, or no form at all). */
export function formField(body: unknown, name: string): string {
  if (body === null || typeof body !== 'object') return '';
  const v = (body as Record<string, unknown>)[name];
  return typeof v === 'string' ? v : '';
}

/** A query string parsed by fastify: refuse parameters given more than once. */
export function singleValued(query: unknown): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (query === null || typeof query !== 'object') return out;
  for (const [k, v] of Object.entries(query as Record<string, unknown>)) {
    if (Array.isArray(v)) throw new DuplicateParameterError(`parameter "${k}" given more than once`);
    if (typeof v === 'string') out[k] = v;
  }
  return out;
}
