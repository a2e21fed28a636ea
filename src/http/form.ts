/**
 * Form bodies for the auth API. Prosody's mod_auth_http labels its POST bodies
 * `application/x/www-form-urlencoded` (sic), so that spelling is accepted beside the right one.
 * A parameter given twice is refused: which copy a script would see is not ours to guess.
 */
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

/** In this plugin's context, form bodies only: JSON and text get 415. */
export function formParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  for (const type of ['application/x-www-form-urlencoded', 'application/x/www-form-urlencoded']) {
    app.addContentTypeParser(type, { parseAs: 'string' }, (_req, body, done) => {
      try {
        done(null, parseForm(body as string));
      } catch (err) {
        done(err as Error, undefined);
      }
    });
  }
}
