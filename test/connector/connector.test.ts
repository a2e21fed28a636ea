/**
 * The extauth connectors each ejabberd worker runs to reach `gatehouse serve`'s extauth socket:
 * the C program (dist/connector/, built by `npm run build`) and the Perl one (bin/), held to
 * one contract. The other end is a stand-in for serve that misbehaves on purpose (late,
 * malformed and unsolicited answers, closed connections, nothing listening); the real serve
 * behind them is tested in test/bridge/socket-server.test.ts and, with real ejabberd, in
 * test/interop/ejabberd-socket.test.ts.
 */
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync } from 'node:fs';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { killQuiet, rmQuiet } from '../helpers/cleanup.js';
import { Worker } from '../helpers/extauth-worker.js';
import { ROOT } from '../helpers/paths.js';

const CONNECTORS = {
  c: join(ROOT, 'dist', 'connector', 'gatehouse-extauth-connect'),
  perl: join(ROOT, 'bin', 'gatehouse-extauth-connect'),
} as const;
const YES = Buffer.from([0, 2, 0, 1]);
const NO = Buffer.from([0, 2, 0, 0]);


/** The C connector's offer of its pipes (src/bridge/handoff.ts). */
const HELLO = Buffer.from('gatehouse-handoff:1');

/**
 * A stand-in for serve: reads ejabberd frames, hands each to `answer`, records everything. Like a
 * serve built without the fdpass addon, it answers the C connector's handoff hello "no" (counted
 * in `hellos`, not recorded as a query); the real handoff is tested in test/bridge/handoff.test.ts.
 */
class FakeServe {
  readonly queries: Buffer[] = [];
  hellos = 0;
  /** What is done with a hello: "no" by default (a serve without the fdpass addon). */
  onHello: (socket: Socket) => void = (socket) => void socket.write(NO);
  connections = 0;
  closedByPeer = 0;
  readonly sockets = new Set<Socket>();
  answer: (query: Buffer, socket: Socket) => void = (q, s) => void s.write(q.toString().endsWith(':secret') ? YES : NO);
  readonly server: Server;

  constructor() {
    this.server = createServer((socket) => {
      this.connections++;
      this.sockets.add(socket);
      let buf = Buffer.alloc(0);
      socket.on('data', (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const q = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + q.length);
          if (q.equals(HELLO)) {
            this.hellos++;
            this.onHello(socket);
            continue;
          }
          this.queries.push(Buffer.from(q));
          this.answer(Buffer.from(q), socket);
        }
      });
      socket.on('end', () => this.closedByPeer++);
      socket.on('error', () => {});
      socket.on('close', () => this.sockets.delete(socket));
    });
  }

  listen(where: string | { host: string; port: number }): Promise<void> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      if (typeof where === 'string') this.server.listen(where, resolve);
      else this.server.listen(where.port, where.host, resolve);
    });
  }

  close(): Promise<void> {
    for (const s of this.sockets) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

function rig(t: TestContext): { dir: string; socket: string; serve: FakeServe; worker(args: string[], program: string): Worker } {
  const dir = mkdtempSync(join(tmpdir(), 'gh-connector-'));
  const serve = new FakeServe();
  const workers: Worker[] = [];
  t.after(async () => {
    for (const w of workers) killQuiet(w.child.pid!, 'SIGKILL');
    await serve.close();
    rmQuiet(dir);
  });
  const r = {
    dir,
    socket: join(dir, 'extauth.sock'),
    serve,
    worker(args: string[], program: string): Worker {
      const w = new Worker(program, args);
      workers.push(w);
      return w;
    },
  };
  return r;
}

for (const [name, program] of Object.entries(CONNECTORS)) {
  const worker = (r: ReturnType<typeof rig>, args: string[] = [r.socket]): Worker => r.worker(args, program);

  test(`${name} connector: is built`, () => {
    assert.ok(existsSync(program), `${program} is missing: \`npm run build\` compiles it (needs cc)`);
  });

  test(`${name} connector: relays each query whole and each answer, over one connection`, async (t) => {
    const r = rig(t);
    await r.serve.listen(r.socket);
    const w = worker(r);
    assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
    assert.deepEqual(await w.ask('auth:alice:localhost:wrong'), NO);
    // Every byte of a query crosses unchanged (ejabberd's frames are binary: NUL, newline, UTF-8).
    const odd = Buffer.concat([Buffer.from('auth:b\u00f6b:localhost:a\nb\0c'), Buffer.from([0xff, 0x00, 0x0a]), Buffer.from(':secret')]);
    assert.deepEqual(await w.ask(odd), YES);
    const long = `auth:alice:localhost:${'x'.repeat(60_000)}:secret`;
    assert.deepEqual(await w.ask(long), YES);
    assert.deepEqual(r.serve.queries.map((q) => q.toString('latin1')), ['auth:alice:localhost:secret', 'auth:alice:localhost:wrong', odd.toString('latin1'), long]);
    assert.equal(r.serve.connections, 1);
    w.child.stdin!.end();
    assert.equal(await w.exited, 0);
  });

  test(`${name} connector: nothing listening means "no" at once, never an exit; the next query connects`, async (t) => {
    const r = rig(t);
    const w = worker(r);
    for (let i = 0; i < 3; i++) assert.deepEqual(await w.ask('auth:alice:localhost:secret'), NO);
    assert.equal(w.child.exitCode, null);
    await r.serve.listen(r.socket);
    assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
    assert.equal(r.serve.queries.length, 1);
  });

  test(`${name} connector: serve going away between queries: "no" while it is gone, then a new connection`, async (t) => {
    const r = rig(t);
    await r.serve.listen(r.socket);
    const w = worker(r);
    assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
    await r.serve.close();
    assert.deepEqual(await w.ask('auth:alice:localhost:secret'), NO);
    const again = new FakeServe();
    t.after(() => again.close());
    await again.listen(r.socket);
    assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
    assert.equal(again.connections, 1);
  });

  test(`${name} connector: an answer that is not exactly yes or no is a "no", and that connection is dropped`, async (t) => {
    const r = rig(t);
    await r.serve.listen(r.socket);
    const w = worker(r);
    for (const bad of [Buffer.from([0, 2, 0, 2]), Buffer.from([0, 2, 1, 1]), Buffer.from('1\n\0\0'), Buffer.from([0, 3, 0, 1])]) {
      r.serve.answer = (_q, s) => void s.write(bad);
      assert.deepEqual(await w.ask('auth:alice:localhost:secret'), NO, `answer ${bad.toString('hex')}`);
      const before = r.serve.connections;
      r.serve.answer = (q, s) => void s.write(q.toString().endsWith(':secret') ? YES : NO);
      // The next query goes over a new connection, so nothing left of the bad one is read.
      assert.deepEqual(await w.ask('auth:alice:localhost:wrong'), NO);
      assert.equal(r.serve.connections, before + 1);
    }
    // A short answer and then the connection closed: "no".
    r.serve.answer = (_q, s) => void s.end(Buffer.from([0, 2, 0]));
    assert.deepEqual(await w.ask('auth:alice:localhost:secret'), NO);
  });

  test(`${name} connector: no answer within --timeout is a "no"; the late "yes" never reaches a later query`, async (t) => {
    const r = rig(t);
    await r.serve.listen(r.socket);
    const w = worker(r, [r.socket, '--timeout', '0.3']);
    const held: Socket[] = [];
    r.serve.answer = (_q, s) => void held.push(s);
    assert.deepEqual(await w.ask('auth:alice:localhost:secret'), NO);
    // The connection the late answer would travel on is closed by the connector.
    await waitUntil(() => r.serve.closedByPeer === 1);
    held[0]!.write(YES);
    r.serve.answer = (q, s) => void s.write(q.toString().endsWith(':secret') ? YES : NO);
    assert.deepEqual(await w.ask('auth:alice:localhost:wrong'), NO);
    assert.equal(r.serve.connections, 2);
    assert.equal(w.extra, 0);
  });

  test(`${name} connector: an unsolicited "yes" between queries is never read as an answer`, async (t) => {
    const r = rig(t);
    await r.serve.listen(r.socket);
    const w = worker(r);
    // serve answers no, then writes a yes that nobody asked for.
    r.serve.answer = (_q, s) => {
      s.write(NO);
      setTimeout(() => s.write(YES), 50);
    };
    assert.deepEqual(await w.ask('auth:alice:localhost:wrong'), NO);
    // Its "no" to the hello, if any, counted too.
    await waitUntil(() => r.serve.sockets.size === 1 && [...r.serve.sockets][0]!.bytesWritten === 8 + 4 * r.serve.hellos);
    r.serve.answer = (q, s) => void s.write(q.toString().endsWith(':secret') ? YES : NO);
    assert.deepEqual(await w.ask('auth:alice:localhost:wrong'), NO);
    assert.equal(r.serve.connections, 2, 'the connection that spoke out of turn was replaced');
  });

  test(`${name} connector: loopback TCP`, async (t) => {
    const r = rig(t);
    await r.serve.listen({ host: '127.0.0.1', port: 0 });
    const port = (r.serve.server.address() as AddressInfo).port;
    const w = worker(r, [`127.0.0.1:${port}`]);
    assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
    assert.deepEqual(await w.ask('auth:alice:localhost:nope'), NO);
  });

  test(`${name} connector: bad arguments exit 2 with a usage line`, async (t) => {
    const r = rig(t);
    for (const args of [[], [r.socket, '--timeout'], [r.socket, '--timeout', 'soon'], [r.socket, 'extra']]) {
      const w = worker(r, args);
      assert.equal(await w.exited, 2, `args ${JSON.stringify(args)}`);
      assert.match(w.stderr, /usage: gatehouse-extauth-connect/);
    }
  });
}

test('C connector: a connection that ends before any reply to its offer is not a "no": it relays, and offers again before the next query', async (t) => {
  const r = rig(t);
  await r.serve.listen(r.socket);
  r.serve.onHello = (socket) => socket.destroy();
  const w = r.worker([r.socket], CONNECTORS.c);
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.deepEqual(await w.ask('auth:alice:localhost:wrong'), NO);
  // Offered before each query (the first, then again before the second); each query relayed.
  assert.equal(r.serve.hellos, 2);
  assert.equal(r.serve.queries.length, 2);
  // Once answered "no", never offered again.
  r.serve.onHello = (socket) => void socket.write(NO);
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.equal(r.serve.hellos, 3);
});

test('C connector: IPv6 loopback', async (t) => {
  const r = rig(t);
  await r.serve.listen({ host: '::1', port: 0 });
  const port = (r.serve.server.address() as AddressInfo).port;
  const w = r.worker([`[::1]:${port}`], CONNECTORS.c);
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
});

async function waitUntil(cond: () => boolean, ms = 30_000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error('condition not met');
    await new Promise((r) => setTimeout(r, 10));
  }
}
