/**
 * Property-based fuzzing of every parser at the edge (issue 13): each property states what
 * must hold for any input, with an oracle written independently of the code under test where
 * the answer can be yes. Shared by the test suite (a bounded number of runs) and the long
 * campaign (bench/fuzz.ts). Invariants: no exception but the parser's own typed refusal, and
 * never a yes where the oracle says no.
 */
import fc from 'fast-check';
import { decodeForm, isForm, MalformedParametersError } from '../../src/http/form.js';
import { WireError } from '../../src/extauth/wire/errors.js';
import { ejabberd, generic, NO, PARTIAL, YES, type ReadResult, type WireProtocol } from '../../src/extauth/wire/protocol.js';
import { tabEscape, tabUnescape } from '../../src/dovecot/escape.js';
import { isOAuthError } from '../../src/oauth/errors.js';
import { matchRedirectUri } from '../../src/oauth/authorize/redirect.js';
import { issueClient, verifyClient } from '../../src/oauth/registration/client-id.js';
import { RegistrationKeys } from '../../src/oauth/registration/keys.js';
import { validateClientMetadata } from '../../src/oauth/registration/metadata.js';

export interface FuzzProperty {
  readonly name: string;
  /** Runs `runs` cases; throws (fast-check's report, with the shrunk counterexample) on a failure. */
  run(runs: number, seed?: number): Promise<void>;
}

const opts = (runs: number, seed?: number) => ({ numRuns: runs, ...(seed === undefined ? {} : { seed }), endOnFailure: true });

/** Bytes biased toward the characters that matter to a form decoder. */
const formBytes = fc
  .array(fc.oneof(fc.constantFrom(...[...'%&=+%0%C3%A9%ce%ZZ%ED%A0%80%F0%9F%98%80'].map((c) => c.charCodeAt(0))), fc.integer({ min: 0, max: 255 })), { maxLength: 200 })
  .map((a) => Uint8Array.from(a));

/** Independent oracle: decode one component, or null when it is malformed. */
function oracleComponent(bytes: Uint8Array): string | null {
  const out: number[] = [];
  for (let i = 0; i < bytes.length; i++) {
    const b = bytes[i]!;
    if (b === 0x25) {
      const hex = String.fromCharCode(bytes[i + 1] ?? 0, bytes[i + 2] ?? 0);
      if (i + 2 >= bytes.length || !/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(b === 0x2b ? 0x20 : b);
  }
  const buf = Buffer.from(out);
  const text = buf.toString('utf8');
  // Well-formed UTF-8 exactly when it survives the round trip.
  return Buffer.from(text, 'utf8').equals(buf) ? text : null;
}

function oracleForm(bytes: Uint8Array): Record<string, string> | null {
  const out: Record<string, string> = Object.create(null);
  const text = Buffer.from(bytes).toString('latin1');
  for (const pair of text.split('&')) {
    if (pair === '') continue;
    const eq = pair.indexOf('=');
    const name = oracleComponent(Buffer.from(eq < 0 ? pair : pair.slice(0, eq), 'latin1'));
    const value = eq < 0 ? '' : oracleComponent(Buffer.from(pair.slice(eq + 1), 'latin1'));
    if (name === null || value === null || Object.hasOwn(out, name)) return null;
    out[name] = value;
  }
  return out;
}

const formDecoder: FuzzProperty = {
  name: 'form and query decoder (http/form.ts)',
  async run(runs, seed) {
    fc.assert(
      fc.property(formBytes, (bytes) => {
        const expected = oracleForm(bytes);
        let got: Record<string, string> | null;
        try {
          const form = decodeForm(bytes);
          if (!isForm(form) || Object.getPrototypeOf(form) !== null || !Object.isFrozen(form)) throw new Error('not a frozen null-prototype form');
          got = { ...form };
        } catch (err) {
          if (!(err instanceof MalformedParametersError)) throw err;
          got = null;
        }
        if (JSON.stringify(got) !== JSON.stringify(expected === null ? null : { ...expected })) {
          throw new Error(`decoder ${JSON.stringify(got)} != oracle ${JSON.stringify(expected)}`);
        }
        // The query-string path (a latin1 string of the same bytes) agrees.
        let viaString: string | null;
        try {
          viaString = JSON.stringify({ ...decodeForm(Buffer.from(bytes).toString('latin1')) });
        } catch {
          viaString = null;
        }
        if (viaString !== (got === null ? null : JSON.stringify(got))) throw new Error('string and byte paths differ');
      }),
      opts(runs, seed),
    );
    // Round trip: what a client encodes, the decoder returns exactly.
    fc.assert(
      fc.property(fc.dictionary(fc.string({ unit: 'binary', maxLength: 20 }).filter((s) => s.isWellFormed() && s !== ''), fc.string({ unit: 'binary', maxLength: 40 }).filter((s) => s.isWellFormed()), { maxKeys: 8 }), (d) => {
        const text = new URLSearchParams(Object.entries(d)).toString();
        const back = { ...decodeForm(Buffer.from(text)) };
        if (JSON.stringify(back) !== JSON.stringify({ ...d })) throw new Error(`round trip changed ${text}`);
      }),
      opts(Math.max(1, Math.floor(runs / 4)), seed),
    );
  },
};

/** Feed `bytes` to a reply reader in the given split; YES/NO/PARTIAL or the WireError code. */
function readReply(protocol: WireProtocol, bytes: Buffer, cuts: number[]): string {
  const reader = protocol.createReplyReader(64);
  let last: ReadResult = PARTIAL;
  let at = 0;
  try {
    for (const cut of [...cuts.filter((c) => c > 0 && c < bytes.length).sort((a, b) => a - b), bytes.length]) {
      if (cut <= at) continue;
      if (last !== PARTIAL) return 'EXTRA';
      last = reader.read(bytes.subarray(at, cut));
      at = cut;
    }
  } catch (err) {
    if (err instanceof WireError) return err.code;
    throw err;
  }
  return last === YES ? 'YES' : last === NO ? 'NO' : 'PARTIAL';
}

function replyReaders(): FuzzProperty {
  return {
    name: 'extauth reply readers, generic and ejabberd (extauth/wire)',
    async run(runs, seed) {
      const yesGeneric = (b: Buffer) => b.equals(Buffer.from('1\n')) || b.equals(Buffer.from('1\r\n'));
      const yesEjabberd = (b: Buffer) => b.equals(Buffer.from([0, 2, 0, 1]));
      const bytes = fc.oneof(
        fc.uint8Array({ maxLength: 12 }),
        fc.array(fc.constantFrom(0x30, 0x31, 0x0a, 0x0d, 0x00, 0x02, 0x01), { maxLength: 8 }).map((a) => Uint8Array.from(a)),
      );
      fc.assert(
        fc.property(bytes, fc.array(fc.nat(12), { maxLength: 4 }), (raw, cuts) => {
          const b = Buffer.from(raw);
          for (const [protocol, yes] of [[generic, yesGeneric], [ejabberd, yesEjabberd]] as const) {
            const got = readReply(protocol, b, cuts);
            if (got === 'YES' && !yes(b)) throw new Error(`${protocol.name} read yes from ${b.toString('hex')}`);
            if (yes(b) && got !== 'YES') throw new Error(`${protocol.name} missed the yes in ${b.toString('hex')} (${got})`);
          }
        }),
        opts(runs, seed),
      );
    },
  };
}

function queryReaders(): FuzzProperty {
  return {
    // Payloads without CR or LF: a query cannot hold them (rule 2), and a line's trailing CR is
    // dropped by design (CRLF callers).
    name: 'extauth query readers (bridge side), split at every offset',
    async run(runs, seed) {
      const payload = fc.uint8Array({ minLength: 1, maxLength: 40 }).map((a) => Buffer.from(a.map((x) => (x === 0x0a || x === 0x0d ? 0x41 : x))));
      fc.assert(
        fc.property(fc.array(payload, { minLength: 1, maxLength: 4 }), fc.array(fc.nat(200), { maxLength: 6 }), fc.uint8Array({ maxLength: 30 }), (queries, cuts, junk) => {
          for (const protocol of [generic, ejabberd]) {
            const wire = Buffer.concat(queries.map((q) => protocol.encodeQuery(q)));
            const reader = protocol.createQueryReader(1024);
            const got: (string | null)[] = [];
            let at = 0;
            for (const cut of [...cuts.filter((c) => c < wire.length).sort((a, b) => a - b), wire.length]) {
              if (cut <= at) continue;
              reader.push(wire.subarray(at, cut), (q) => got.push(q === null ? null : q.toString('hex')));
              at = cut;
            }
            const want = queries.map((q) => q.toString('hex'));
            if (JSON.stringify(got) !== JSON.stringify(want)) throw new Error(`${protocol.name}: ${JSON.stringify(got)} != ${JSON.stringify(want)}`);
            if (!reader.atBoundary) throw new Error(`${protocol.name}: not at a boundary after whole queries`);
            // Garbage afterwards: never an exception, at most queries or nulls.
            reader.push(Buffer.from(junk), () => undefined);
          }
        }),
        opts(runs, seed),
      );
    },
  };
}

const dovecotEscape: FuzzProperty = {
  name: 'Dovecot tab escaping (dovecot/escape.ts)',
  async run(runs, seed) {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 60 }), fc.string({ maxLength: 30 }), (s, raw) => {
        const e = tabEscape(s);
        if (/[\t\n\r]/.test(e)) throw new Error('an escaped value holds a separator');
        if (tabUnescape(e) !== s) throw new Error('escaping does not round-trip');
        const u = tabUnescape(raw); // any input: a string, never an exception
        if (typeof u !== 'string') throw new Error('not a string');
      }),
      opts(runs, seed),
    );
  },
};

const clientMetadata: FuzzProperty = {
  name: 'client metadata validation (oauth/registration/metadata.ts)',
  async run(runs, seed) {
    const uri = fc.oneof(fc.webUrl(), fc.constantFrom('http://127.0.0.1/cb', 'http://[::1]:8080/x', 'org.example.app:/cb', 'https://app.example.net/cb', 'javascript:alert(1)', 'http://localhost/cb'), fc.string());
    const metadata = fc.record(
      {
        client_name: fc.oneof(fc.string(), fc.jsonValue()),
        client_uri: fc.oneof(fc.webUrl(), fc.jsonValue()),
        redirect_uris: fc.oneof(fc.array(uri, { maxLength: 3 }), fc.jsonValue()),
        grant_types: fc.oneof(fc.subarray(['authorization_code', 'refresh_token', 'urn:ietf:params:oauth:grant-type:device_code', 'implicit', 'password']), fc.jsonValue()),
        token_endpoint_auth_method: fc.oneof(fc.constantFrom('client_secret_basic', 'client_secret_post', 'none', 'private_key_jwt'), fc.jsonValue()),
        application_type: fc.oneof(fc.constantFrom('web', 'native'), fc.jsonValue()),
        scope: fc.oneof(fc.constantFrom('xmpp', 'openid xmpp offline_access', ''), fc.string()),
      },
      { requiredKeys: [] },
    );
    fc.assert(
      fc.property(fc.oneof(metadata, fc.jsonValue()), (input) => {
        try {
          validateClientMetadata(input);
        } catch (err) {
          if (!isOAuthError(err)) throw err;
        }
      }),
      opts(runs, seed),
    );
  },
};

function clientIds(): FuzzProperty {
  const keys = new RegistrationKeys(['fuzz-registration-key-0123456789'], 'fuzz.example');
  const other = new RegistrationKeys(['fuzz-registration-key-0123456789'], 'other.example');
  return {
    name: 'client_id JWT verification (oauth/registration/client-id.ts)',
    async run(runs, seed) {
      const metadata = validateClientMetadata({ client_name: 'Fuzz', client_uri: 'https://app.example.net/', redirect_uris: ['https://app.example.net/cb'] });
      const info = await issueClient(metadata, keys, { ttlS: null });
      const id = info.client_id;
      await fc.assert(
        fc.asyncProperty(
          fc.oneof(
            fc.string({ maxLength: 300 }),
            // One to three characters of a real client_id changed, removed or inserted.
            fc.array(fc.tuple(fc.nat(id.length - 1), fc.constantFrom('set', 'del', 'ins'), fc.constantFrom(...'ABCabc019-_.=')), { minLength: 1, maxLength: 3 }).map((edits) => {
              let s = id;
              for (const [at, op, c] of edits) {
                const i = at % s.length;
                s = op === 'set' ? s.slice(0, i) + c + s.slice(i + 1) : op === 'del' ? s.slice(0, i) + s.slice(i + 1) : s.slice(0, i) + c + s.slice(i);
              }
              return s;
            }),
          ),
          async (candidate) => {
            let verified = null;
            try {
              verified = await verifyClient(candidate, keys);
            } catch (err) {
              if (!isOAuthError(err) || err.error !== 'invalid_client') throw err;
            }
            // The only yes allowed: a string that still carries exactly the issued metadata
            // (base64url's unused low bits of the last character do not change the bytes).
            if (verified !== null && JSON.stringify(verified) !== JSON.stringify(metadata)) throw new Error(`forged client accepted: ${candidate}`);
            // Never on another host.
            const elsewhere = await verifyClient(candidate, other).then(() => true, () => false);
            if (elsewhere) throw new Error('a client_id verified on another host');
          },
        ),
        opts(runs, seed),
      );
    },
  };
}

/** Independent oracle of exact redirect matching (RFC 8252 §7.3: the port alone may differ). */
function oracleMatch(registered: readonly string[], requested: string): boolean {
  if (registered.includes(requested)) return true;
  const strip = (u: string): string | null => {
    const m = /^http:\/\/(127\.0\.0\.1|\[::1\])(:(\d+))?([/?].*)?$/s.exec(u);
    if (m === null || u.includes('#') || /[^\x21-\x7e]/.test(u) || /[\\<>"{}|^`]/.test(u)) return null;
    if (m[3] !== undefined && (m[3].startsWith('0') || Number(m[3]) < 1 || Number(m[3]) > 65535)) return null;
    return `http://${m[1]}${m[4] ?? ''}`;
  };
  const key = strip(requested);
  return key !== null && registered.some((r) => strip(r) === key);
}

const redirectMatching: FuzzProperty = {
  name: 'redirect URI matching (oauth/authorize/redirect.ts)',
  async run(runs, seed) {
    const registered = fc.array(fc.constantFrom('http://127.0.0.1/cb', 'http://127.0.0.1:8123/cb', 'http://[::1]/cb?x=1', 'https://app.example.net/cb', 'org.example.app:/cb', 'http://127.0.0.1'), { minLength: 1, maxLength: 3 });
    const mutation = fc.tuple(
      fc.constantFrom('', 'HTTP://', 'http://evil@', 'http://u:p@', 'http://', 'https://', 'http://2130706433', 'http://127.1', 'http://[0:0:0:0:0:0:0:1]'),
      fc.constantFrom('127.0.0.1', '[::1]', '', 'localhost', '127.0.0.2'),
      fc.constantFrom('', ':1', ':8080', ':65535', ':65536', ':080', ':', ':0'),
      fc.constantFrom('/cb', '/cb?x=1', '/x/../cb', '/./cb', '/cb#f', '/cb/', '/CB', '/%63b', '', '?x=1', '/cb#', '\\cb'),
    );
    fc.assert(
      fc.property(registered, fc.oneof(mutation.map(([scheme, host, port, rest]) => (scheme.endsWith('//') ? `${scheme}${host}${port}${rest}` : `${scheme || 'http://'}${scheme.startsWith('http://2') || scheme.startsWith('http://1') || scheme.includes('[0') ? '' : host}${port}${rest}`)), fc.string({ maxLength: 40 })), (reg, req) => {
        const got = matchRedirectUri(reg, req);
        const want = oracleMatch(reg, req);
        if ((got !== null) !== want) throw new Error(`match(${JSON.stringify(reg)}, ${JSON.stringify(req)}) = ${got}, oracle says ${want}`);
        if (got !== null && got !== req) throw new Error('the match is not the requested string');
      }),
      opts(runs, seed),
    );
  },
};

/** Every pure parser's property, in a fixed order. */
export function parserProperties(): FuzzProperty[] {
  return [formDecoder, replyReaders(), queryReaders(), dovecotEscape, clientMetadata, clientIds(), redirectMatching];
}
