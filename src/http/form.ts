/**
 * The one decoder of `application/x-www-form-urlencoded` bytes, for form bodies and query
 * strings on every route (DESIGN.md rule 12). It turns bytes into a null-prototype, frozen
 * record of strings, or refuses them with a 400 that names no input:
 *  - a percent sign not followed by two hex digits (`%ZZ`, a trailing `%`);
 *  - a name or value whose bytes, once unescaped, are not well-formed UTF-8 (`%ce` alone,
 *    an overlong form, a lone surrogate);
 *  - a parameter given twice (RFC 6749 §3.1: "Request and response parameters MUST NOT be
 *    included more than once"; which copy a script or a check would see is not ours to guess).
 * WHATWG's URLSearchParams, which this replaces, turns the first two into U+FFFD or leaves the
 * escape as it was, so a script could be asked about a name nobody sent.
 *
 * Only this module's records pass `isForm`, so a handler that reads `formOf(req)` or
 * `queryOf(req)` never sees a JSON value, an array or an object where it expects a string.
 *
 * Prosody's mod_auth_http labels its POST bodies `application/x/www-form-urlencoded` (sic), so
 * that spelling is accepted beside the right one (correctFormType).
 */
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** Decoded parameters: null prototype, frozen, every value a string. */
export type Form = Readonly<Record<string, string>>;

export type MalformedReason = 'percent-encoding' | 'utf-8' | 'repeated';

const MESSAGES: Record<MalformedReason, string> = {
  'percent-encoding': 'the parameters contain an invalid percent-escape',
  'utf-8': 'the parameters are not valid UTF-8',
  repeated: 'a parameter is given more than once',
};

const SAFE_NAME = /^[A-Za-z0-9_.-]{1,64}$/;

/** Parameters that cannot be decoded; a client error. The message never echoes input. */
export class MalformedParametersError extends Error {
  readonly statusCode = 400;
  readonly code = 'ERR_MALFORMED_PARAMETERS';
  readonly reason: MalformedReason;
  /** The repeated parameter's name (reason 'repeated'), for a caller that wants to say it. */
  readonly parameter: string | undefined;
  constructor(reason: MalformedReason, parameter?: string) {
    // A repeated parameter is named when its name is plainly harmless to echo.
    super(parameter !== undefined && SAFE_NAME.test(parameter) ? `parameter "${parameter}" given more than once` : MESSAGES[reason]);
    this.reason = reason;
    this.parameter = parameter;
  }
}

/** A body in a format this route does not take (JSON on a form route, a form on a JSON one). */
export class UnsupportedBodyError extends Error {
  readonly statusCode = 415;
  readonly code = 'ERR_UNSUPPORTED_BODY';
  constructor() {
    super('the request body must be application/x-www-form-urlencoded');
  }
}

const FORMS = new WeakSet<object>();
const UTF8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function freezeForm(out: Record<string, string>): Form {
  Object.freeze(out);
  FORMS.add(out);
  return out;
}

/** An empty form (a request without a body or a query). */
export const EMPTY_FORM: Form = freezeForm(Object.create(null) as Record<string, string>);

/** True for records made by this module's decoder. */
export function isForm(value: unknown): value is Form {
  return typeof value === 'object' && value !== null && FORMS.has(value);
}

const HEX: Int8Array = (() => {
  const t = new Int8Array(256).fill(-1);
  for (let i = 0; i < 10; i++) t[0x30 + i] = i;
  for (let i = 0; i < 6; i++) {
    t[0x41 + i] = 10 + i;
    t[0x61 + i] = 10 + i;
  }
  return t;
})();

/** Unescape bytes [start, end) of `src` (`+` is a space) and decode them as UTF-8. */
function component(src: Uint8Array, start: number, end: number): string {
  let plain = true;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    if (b === 0x25 || b === 0x2b || b >= 0x80) {
      plain = false;
      break;
    }
  }
  if (plain) return Buffer.from(src.buffer, src.byteOffset + start, end - start).toString('latin1');
  const out = new Uint8Array(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const b = src[i]!;
    if (b === 0x25) {
      const hi = i + 2 < end ? HEX[src[i + 1]!]! : -1;
      const lo = hi >= 0 ? HEX[src[i + 2]!]! : -1;
      if (lo < 0) throw new MalformedParametersError('percent-encoding');
      out[n++] = (hi << 4) | lo;
      i += 2;
    } else {
      out[n++] = b === 0x2b ? 0x20 : b;
    }
  }
  try {
    return UTF8.decode(out.subarray(0, n));
  } catch {
    throw new MalformedParametersError('utf-8');
  }
}

/**
 * Decode `a=1&b=2` (bytes, or a string whose characters are bytes as in a request target):
 * header comment. Empty pairs (`a=1&&b=2`) are skipped as WHATWG does; a pair without `=` is a
 * name with an empty value.
 */
export function decodeForm(input: Uint8Array | string): Form {
  const src = typeof input === 'string' ? Buffer.from(input, 'latin1') : input;
  const out: Record<string, string> = Object.create(null);
  let start = 0;
  while (start <= src.length) {
    let end = src.indexOf(0x26, start);
    if (end < 0) end = src.length;
    if (end > start) {
      let eq = src.indexOf(0x3d, start);
      if (eq < 0 || eq > end) eq = end;
      const name = component(src, start, eq);
      const value = eq < end ? component(src, eq + 1, end) : '';
      if (Object.hasOwn(out, name)) throw new MalformedParametersError('repeated', name);
      out[name] = value;
    }
    start = end + 1;
  }
  return freezeForm(out);
}

/** A query string that could not be decoded: kept as req.query until a handler reads it. */
export class MalformedQuery {
  readonly error: MalformedParametersError;
  constructor(error: MalformedParametersError) {
    this.error = error;
    Object.freeze(this);
  }
}

/**
 * fastify's `querystringParser`: never throws (it runs inside the router, before any error
 * handler), so a malformed query is kept as a MalformedQuery and refused by `queryOf`.
 */
export function parseQueryString(text: string): Form | MalformedQuery {
  if (text.length === 0) return EMPTY_FORM;
  try {
    return decodeForm(text);
  } catch (err) {
    if (err instanceof MalformedParametersError) return new MalformedQuery(err);
    throw err;
  }
}

/** The decoded query string of a request; throws MalformedParametersError (400). */
export function queryOf(req: FastifyRequest): Form {
  const q: unknown = req.query;
  if (isForm(q)) return q;
  if (q instanceof MalformedQuery) throw q.error;
  return EMPTY_FORM;
}

/**
 * The decoded form body of a request: the empty form when there was no body; throws
 * UnsupportedBodyError (415) for anything the form decoder did not make (a JSON value).
 */
export function formOf(req: FastifyRequest): Form {
  const body: unknown = req.body;
  if (body === undefined) return EMPTY_FORM;
  if (isForm(body)) return body;
  throw new UnsupportedBodyError();
}

/** The parameters of a GET (query) or a POST (form body). */
export function paramsOf(req: FastifyRequest): Form {
  return req.method === 'GET' || req.method === 'HEAD' ? queryOf(req) : formOf(req);
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

/** In this app or plugin context: form bodies only; any other type is a 415. */
export function formParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(FORM, { parseAs: 'buffer' }, (_req, body, done) => {
    try {
      done(null, decodeForm(body as Buffer));
    } catch (err) {
      done(err as Error, undefined);
    }
  });
}

/** In this plugin context: JSON bodies only (RFC 7591 registration); any other type is a 415. */
export function jsonParsers(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('application/json', { parseAs: 'string' }, app.getDefaultJsonParser('error', 'error'));
}

/** A string field of a form ('' when absent). */
export function formField(form: Form, name: string): string {
  return form[name] ?? '';
}
