#!/usr/bin/env node
// Minimal XMPP SASL PLAIN login client for load measurement (Node built-ins only, loopback only).
// Per login: TCP connect, stream header, wait for </stream:features> (PLAIN offered), send
// <auth mechanism='PLAIN'>base64(\0user\0password)</auth>, read <success/> or <failure/>,
// send </stream:stream>. No TLS, no resource binding: it measures the server's SASL path.
//
// CLI:
//   printf %s "$PW" | node plain_login.mjs --port 5222 --user alice --domain localhost \
//        --password-stdin [--count 2000] [--concurrency 4] [--max-seconds 20] [--timeout 10]
//   (or PLAIN_PASSWORD=... instead of --password-stdin)
//   --count 1 (default) prints "OK" / "FAIL <reason>"; otherwise
//   "COUNT ok=<n> fail=<m> cut=<k> elapsed=<s> rate=<ok/s>"; exit 0 iff ok>0 and fail=0.
// Library: import { plainLogin, plainLoginRate } from './plain_login.mjs'
import net from 'node:net';

const HARD_MAX_COUNT = 1_000_000;
const HARD_MAX_SECONDS = 120;
const HARD_MAX_CONCURRENCY = 512;
const MAX_BUFFER = 1 << 16;

function isLoopback(addr) {
  return addr === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(addr);
}

function xmlAttr(s) {
  return s.replace(/&/g, '&amp;').replace(/'/g, '&apos;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/**
 * One SASL PLAIN login. Resolves { ok: boolean, reason: string }; never rejects.
 * @param {{port:number, address?:string, domain?:string, user:string, password:string, timeoutMs?:number}} o
 */
export function plainLogin(o) {
  const address = o.address ?? '127.0.0.1';
  const domain = o.domain ?? 'localhost';
  const timeoutMs = Math.min(Math.max(o.timeoutMs ?? 10000, 50), HARD_MAX_SECONDS * 1000);
  if (!isLoopback(address)) return Promise.resolve({ ok: false, reason: 'address must be loopback' });
  const payload = Buffer.concat([Buffer.from([0]), Buffer.from(o.user, 'utf8'), Buffer.from([0]), Buffer.from(o.password, 'utf8')]).toString('base64');
  return new Promise((resolve) => {
    let state = 'features';
    let buf = '';
    let settled = false;
    const sock = net.connect({ host: address, port: o.port });
    sock.setNoDelay(true);
    const finish = (ok, reason) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // Polite close: the server answers </stream:stream> and closes; force it after 1 s.
      try {
        if (!sock.destroyed) sock.end('</stream:stream>');
      } catch {
        /* ignore */
      }
      const t = setTimeout(() => sock.destroy(), 1000);
      t.unref();
      resolve({ ok, reason });
    };
    const timer = setTimeout(() => finish(false, `timeout after ${timeoutMs} ms in state ${state}`), timeoutMs);
    sock.on('error', (e) => finish(false, `socket error: ${e.code ?? e.message}`));
    sock.on('close', () => finish(false, `connection closed in state ${state}`));
    sock.on('connect', () => {
      sock.write(
        `<?xml version='1.0'?><stream:stream to='${xmlAttr(domain)}' xmlns='jabber:client' ` +
          `xmlns:stream='http://etherx.jabber.org/streams' version='1.0'>`,
      );
    });
    sock.setEncoding('utf8');
    sock.on('data', (d) => {
      if (settled) return;
      buf += d;
      if (buf.length > MAX_BUFFER) return finish(false, 'server sent too much');
      if (buf.includes('<stream:error')) return finish(false, `stream error: ${buf.slice(buf.indexOf('<stream:error'), buf.indexOf('<stream:error') + 200)}`);
      if (state === 'features') {
        const end = buf.indexOf('</stream:features>');
        if (end < 0) return;
        const features = buf.slice(0, end);
        buf = buf.slice(end + '</stream:features>'.length);
        if (!/<mechanism>PLAIN<\/mechanism>/.test(features)) return finish(false, 'PLAIN not offered');
        state = 'auth';
        sock.write(`<auth xmlns='urn:ietf:params:xml:ns:xmpp-sasl' mechanism='PLAIN'>${payload}</auth>`);
      }
      if (state === 'auth') {
        if (/<success[\s/>]/.test(buf)) return finish(true, '');
        const f = /<failure[\s>][\s\S]*?<\/failure>|<failure[^>]*\/>/.exec(buf);
        if (f) {
          const cond = /<([a-z-]+)(?:\s[^>]*)?\/>/.exec(f[0].replace(/^<failure[^>]*>/, ''));
          return finish(false, `auth failed${cond ? ` (${cond[1]})` : ''}`);
        }
      }
    });
  });
}

/**
 * Up to `count` logins, `concurrency` at a time, stopping at `maxSeconds`.
 * Resolves { ok, fail, cut, elapsedS, perSecond, firstFailure }; `cut` = in flight when the
 * time bound (+1 s) ran out.
 */
export async function plainLoginRate(o) {
  const count = Math.min(Math.max(1, Math.floor(o.count ?? 1)), HARD_MAX_COUNT);
  const conc = Math.min(Math.max(1, Math.floor(o.concurrency ?? 1)), HARD_MAX_CONCURRENCY, count);
  const maxMs = Math.min(Math.max(0.1, o.maxSeconds ?? 20), HARD_MAX_SECONDS) * 1000;
  const t0 = performance.now();
  const deadline = t0 + maxMs;
  const perLogin = Math.max(50, o.timeoutMs ?? 10000);
  let next = 0;
  let ok = 0;
  let fail = 0;
  let cut = 0;
  let firstFailure = '';
  async function worker() {
    while (next < count && performance.now() < deadline) {
      next++;
      // Logins still in flight 1 s after the time bound are cut (counted apart, not as failures).
      const left = deadline + 1000 - performance.now();
      const shortened = left < perLogin;
      const r = await plainLogin({ ...o, timeoutMs: Math.max(50, Math.min(perLogin, left)) });
      if (r.ok) ok++;
      else if (shortened && r.reason.startsWith('timeout')) cut++;
      else {
        fail++;
        firstFailure ||= r.reason;
      }
    }
  }
  await Promise.all(Array.from({ length: conc }, () => worker()));
  const elapsedS = (performance.now() - t0) / 1000;
  return { ok, fail, cut, elapsedS, perSecond: elapsedS > 0 ? ok / elapsedS : 0, firstFailure };
}

async function readStdin() {
  const chunks = [];
  for await (const c of process.stdin) chunks.push(c);
  return Buffer.concat(chunks).toString('utf8');
}

async function main(argv) {
  const opts = { address: '127.0.0.1', domain: 'localhost', count: 1, concurrency: 1, maxSeconds: 20, timeoutMs: 10000 };
  let pwStdin = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = () => {
      if (i + 1 >= argv.length) throw new Error(`${a} needs a value`);
      return argv[++i];
    };
    switch (a) {
      case '--address': case '--host': opts.address = v(); break;
      case '--port': opts.port = Number(v()); break;
      case '--user': opts.user = v(); break;
      case '--domain': opts.domain = v(); break;
      case '--count': opts.count = Number(v()); break;
      case '--concurrency': opts.concurrency = Number(v()); break;
      case '--max-seconds': opts.maxSeconds = Number(v()); break;
      case '--timeout': opts.timeoutMs = Number(v()) * 1000; break;
      case '--password-stdin': pwStdin = true; break;
      default: throw new Error(`unknown argument ${a}`);
    }
  }
  if (!Number.isInteger(opts.port) || opts.port <= 0 || !opts.user) throw new Error('need --port and --user');
  if (!isLoopback(opts.address)) throw new Error('--address must be loopback');
  opts.password = pwStdin ? await readStdin() : process.env.PLAIN_PASSWORD;
  if (opts.password === undefined) throw new Error('no password: --password-stdin or PLAIN_PASSWORD');
  if (opts.count === 1) {
    const r = await plainLogin(opts);
    console.log(r.ok ? 'OK' : `FAIL ${r.reason}`);
    return r.ok ? 0 : 1;
  }
  const r = await plainLoginRate(opts);
  console.log(
    `COUNT ok=${r.ok} fail=${r.fail} cut=${r.cut} elapsed=${r.elapsedS.toFixed(3)} rate=${r.perSecond.toFixed(1)}` +
      (r.firstFailure ? ` first_fail=${r.firstFailure.replace(/\s+/g, '_')}` : ''),
  );
  return r.ok > 0 && r.fail === 0 ? 0 : 1;
}

if (import.meta.url === `file://${process.argv[1]}` || process.argv[1]?.endsWith('/plain_login.mjs')) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.log(`FAIL usage: ${e.message}`);
      process.exit(2);
    },
  );
}
