/**
 * One Dovecot auth-client connection (src/dovecot/connection.ts), driven over a real loopback
 * socket by a client that speaks the protocol as Postfix's smtpd does, with hostile input
 * beside each well-formed request. The credential check is the connection's other party: here
 * a checker that records what it is asked and answers when the test says, so that the order of
 * answers, cancellations and closes can be set up without waiting on the clock.
 *
 * Protocol: doc.dovecot.org, "Dovecot Authentication Protocol" (auth-client, version 1).
 */
import assert from 'node:assert/strict';
import { createConnection, createServer, type Socket } from 'node:net';
import { test, type TestContext } from 'node:test';
import { DovecotConnection, MAX_LINE_BYTES, type Authenticate, type Verdict } from '../../src/dovecot/connection.js';
import { b64, LineSocket } from '../helpers/dovecot.js';
import { MemoryLogger } from '../helpers/log.js';

/** How long a test waits for something that must happen (the machine may be loaded). */
const BOUND_MS = 30_000;

/**
 * Wait until `done()` is true. The server runs in this process, so it is also known when it will
 * never be: when `stuck()` says the server has handled all it was sent and everything it wrote
 * has been read, the wait fails at once rather than at its bound.
 */
async function until(done: () => boolean, stuck: () => boolean, wake: (r: () => void) => void, what: string): Promise<void> {
  const end = Date.now() + BOUND_MS;
  while (!done()) {
    if (stuck()) {
      // Once more after the events already queued (a close on its way, a line in the buffer).
      await new Promise<void>((r) => setImmediate(r));
      if (done()) return;
      if (stuck()) throw new Error(`${what}: the server has nothing more to say`);
    }
    if (Date.now() > end) throw new Error(`${what}: nothing after ${BOUND_MS} ms`);
    await new Promise<void>((r) => {
      wake(r);
      setTimeout(r, 20);
    });
  }
}

/** The client end of one connection, speaking the protocol as Postfix's smtpd does. */
class Wire extends LineSocket {
  readonly #peer: () => Socket | undefined;

  constructor(socket: Socket, peer: () => Socket | undefined) {
    super(socket);
    this.#peer = peer;
  }

  /**
   * The server side has read every byte sent (or reads nothing at all), is not closing, and every
   * byte it wrote has been read here: nothing more will come until the client sends again.
   */
  idle(): boolean {
    if (this.closed) return true;
    const peer = this.#peer();
    if (peer === undefined || peer.destroyed) return false;
    const reading = peer.readableFlowing === true;
    return (!reading || peer.bytesRead === this.socket.bytesWritten) && peer.bytesWritten === this.socket.bytesRead;
  }

  /** The next line, or null once the connection is closed. */
  async line(): Promise<string | null> {
    await until(
      () => this.hasLine || this.closed,
      () => this.idle(),
      (r) => this.wake(r),
      'waiting for a line',
    );
    return this.takeLine();
  }
}

interface Call {
  username: string;
  password: string;
  ctx: { address?: string | undefined; service?: string | undefined };
  /** Answers this check (when the checker holds its answers). */
  answer(v: Verdict): void;
}

/**
 * The credential checker: "secret" is the right password and the verdict's user is the name as
 * asked; with `hold`, every check waits for the test to answer it.
 */
class Checker {
  readonly calls: Call[] = [];
  hold = false;
  /** Every connection has nothing more to do (set by the harness). */
  idle: () => boolean = () => false;
  #waiters: (() => void)[] = [];

  readonly authenticate: Authenticate = (username, password, ctx) =>
    new Promise<Verdict>((resolve) => {
      this.calls.push({ username, password, ctx: { ...ctx }, answer: resolve });
      for (const w of this.#waiters.splice(0)) w();
      if (!this.hold) resolve(password === 'secret' ? { ok: true, user: username } : { ok: false, temporary: false, reason: 'Authentication failed' });
    });

  /** The `n`th check (from 1), once it has been asked. */
  async call(n: number): Promise<Call> {
    await until(
      () => this.calls.length >= n,
      () => this.idle(),
      (r) => this.#waiters.push(r),
      `check ${n}`,
    );
    return this.calls[n - 1]!;
  }
}

const OK: Verdict = { ok: true, user: 'alice' };
const WRONG: Verdict = { ok: false, temporary: false, reason: 'Authentication failed' };

async function serve(t: TestContext, options: { maxRequests?: number; cuid?: number } = {}) {
  const log = new MemoryLogger();
  const checker = new Checker();
  /** Server ends of the connections, by the client's port. */
  const peers = new Map<number, Socket>();
  const wires: Wire[] = [];
  checker.idle = () => wires.every((w) => w.idle());
  const server = createServer((socket) => {
    new DovecotConnection(socket, {
      authenticate: checker.authenticate,
      logger: log,
      cuid: options.cuid ?? 7,
      ...(options.maxRequests === undefined ? {} : { maxRequests: options.maxRequests }),
    });
    peers.set(socket.remotePort!, socket);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const port = (server.address() as { port: number }).port;
  t.after(async () => {
    for (const s of peers.values()) s.destroy();
    await new Promise<void>((r) => server.close(() => r()));
  });
  /** Connect, read the server's handshake up to DONE, send ours. */
  const open = async (handshake = 'VERSION\t1\t2\nCPID\t4242\n') => {
    const socket = createConnection(port, '127.0.0.1');
    t.after(() => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const c = new Wire(socket, () => peers.get(socket.localPort!));
    wires.push(c);
    for (;;) {
      const line = await c.line();
      if (line === null) throw new Error('closed during the handshake');
      c.handshake.push(line);
      if (line === 'DONE') break;
    }
    if (handshake) socket.write(handshake);
    return c;
  };
  /**
   * A request that is answered at once without a check: when its FAIL is the next line, the
   * connection sent nothing before it.
   */
  const probe = async (c: Wire, id = 900) => {
    c.send(`AUTH\t${id}\tCRAM-MD5\tservice=smtp`);
    assert.equal(await c.line(), `FAIL\t${id}\treason=Unsupported authentication mechanism`);
  };
  const warned = (msg: string) => log.entries.filter((e) => e.level === 'warn' && e.msg === msg).map((e) => e.obj);
  return { log, checker, open, probe, warned };
}

const plainResp = (authzid: string, user: string, password: string) => b64(`${authzid}\0${user}\0${password}`);

test('the server handshake: version 1.2, PLAIN and LOGIN, our pid, the CUID, a fresh cookie, DONE', async (t) => {
  const s = await serve(t, { cuid: 4711 });
  const a = await s.open();
  const b = await s.open();
  const cookie = /^COOKIE\t([0-9a-f]{32})$/;
  for (const c of [a, b]) {
    assert.deepEqual(c.handshake.filter((l) => !cookie.test(l)), ['VERSION\t1\t2', 'MECH\tPLAIN\tplaintext', 'MECH\tLOGIN\tplaintext', `SPID\t${process.pid}`, 'CUID\t4711', 'DONE']);
    assert.equal(c.handshake.filter((l) => cookie.test(l)).length, 1);
  }
  const cookieOf = (c: Wire) => cookie.exec(c.handshake.find((l) => cookie.test(l))!)![1];
  assert.notEqual(cookieOf(a), cookieOf(b), 'every connection gets its own cookie');
});

test('VERSION: another major version closes the connection; another minor one is served', async (t) => {
  const s = await serve(t);
  for (const version of ['VERSION\t2\t0', 'VERSION\t0\t9', 'VERSION', 'VERSION\t\t1', 'VERSION\t1.2']) {
    const c = await s.open(`${version}\nCPID\t1\n`);
    c.send(`AUTH\t1\tPLAIN\tresp=${plainResp('', 'alice', 'secret')}`);
    assert.equal(await c.line(), null, `${JSON.stringify(version)} was served`);
  }
  assert.deepEqual(
    s.warned('dovecot client speaks another major version; closing').map((o) => o['version']),
    ['2', '0', undefined, '', '1.2'],
  );
  assert.equal(s.checker.calls.length, 0, 'a refused client got its credentials checked');
  // Positive control: a later minor version (and a line ending in CRLF) is fine.
  const c = await s.open('VERSION\t1\t9\r\nCPID\t1\r\n');
  assert.equal(await c.plain(1, 'alice', 'secret'), 'OK\t1\tuser=alice');
});

test('the client handshake: VERSION then CPID, or AUTH at once; anything else closes', async (t) => {
  const s = await serve(t);
  // Some clients send AUTH right after VERSION, without CPID.
  const quick = await s.open('VERSION\t1\t1\n');
  assert.equal(await quick.plain(1, 'alice', 'secret'), 'OK\t1\tuser=alice');
  // Or even without VERSION.
  const bare = await s.open('');
  assert.equal(await bare.plain(2, 'alice', 'secret'), 'OK\t2\tuser=alice');
  // After CPID, unknown commands are ignored (options of a newer client).
  const c = await s.open();
  c.send('FROB\tx');
  c.send(`${'Y'.repeat(30)}\tx`);
  assert.equal(await c.plain(3, 'alice', 'secret'), 'OK\t3\tuser=alice');
  // Logged, at most 20 characters of it.
  const unknown = s.log.entries.filter((e) => e.level === 'debug' && e.msg === 'dovecot client sent an unknown command');
  assert.deepEqual(unknown.map((e) => e.obj['cmd']), ['FROB', 'Y'.repeat(20)]);
  // Before the handshake is done, any other line closes the connection, and is not obeyed.
  const bad = ['CONT\t1\tAAAA', 'CANCEL\t1', 'FROB', '', 'X'.repeat(100), 'cpid\t1', 'version\t1\t2'];
  for (const line of bad) {
    const d = await s.open('');
    d.send(line);
    d.send(`AUTH\t1\tPLAIN\tresp=${plainResp('', 'alice', 'secret')}`);
    assert.equal(await d.line(), null, `${JSON.stringify(line)} was accepted as a handshake`);
  }
  // And VERSION alone does not finish it.
  const v = await s.open('VERSION\t1\t2\n');
  v.send('FROB');
  assert.equal(await v.line(), null);
  const logged = s.warned('dovecot client sent an unexpected handshake line; closing').map((o) => o['cmd']);
  assert.deepEqual(logged, ['CONT', 'CANCEL', 'FROB', '', 'X'.repeat(20), 'cpid', 'version', 'FROB']);
  assert.equal(s.checker.calls.length, 3, 'only the three good requests were checked');
});

test('lines pipelined after one that closes the connection are not obeyed', async (t) => {
  const s = await serve(t);
  const good = `AUTH\t5\tPLAIN\tresp=${plainResp('', 'alice', 'secret')}`;
  // Each closing line, then a well-formed request, in one write.
  const closing = ['VERSION\t2\t0\nCPID\t1', 'FROB', 'VERSION\t1\t2\nCPID\t1\nAUTH\tx\tPLAIN', 'VERSION\t1\t2\nCPID\t1\nCONT\t1\tAAAA'];
  for (const first of closing) {
    const c = await s.open('');
    c.socket.write(`${first}\n${good}\n`);
    assert.equal(await c.line(), null, `${JSON.stringify(first)} did not close`);
  }
  assert.equal(s.checker.calls.length, 0, 'a request after the closing line was checked');
  // Positive control: the same request in the same kind of write is served.
  const c = await s.open('');
  c.socket.write(`VERSION\t1\t2\nCPID\t1\n${good}\n`);
  assert.equal(await c.line(), 'OK\t5\tuser=alice');
});

test('malformed AUTH lines close the connection; ids of 1 to 10 digits are served', async (t) => {
  const s = await serve(t);
  const resp = plainResp('', 'alice', 'secret');
  for (const line of ['AUTH', 'AUTH\t1', 'AUTH\t\tPLAIN', 'AUTH\tx\tPLAIN', 'AUTH\t1x\tPLAIN', 'AUTH\tx1\tPLAIN', 'AUTH\t-1\tPLAIN', 'AUTH\t12345678901\tPLAIN', `AUTH\t1 \tPLAIN\tresp=${resp}`]) {
    const c = await s.open();
    c.send(line);
    c.send(`AUTH\t2\tPLAIN\tresp=${resp}`);
    assert.equal(await c.line(), null, `${JSON.stringify(line)} did not close`);
  }
  assert.equal(s.warned('malformed AUTH; closing').length, 9);
  assert.equal(s.checker.calls.length, 0);
  const c = await s.open();
  c.send(`AUTH\t1234567890\tPLAIN\tresp=${resp}`);
  assert.equal(await c.line(), 'OK\t1234567890\tuser=alice');
  c.send(`AUTH\t0\tPLAIN\tresp=${resp}`);
  assert.equal(await c.line(), 'OK\t0\tuser=alice');
});

test('mechanisms: PLAIN and LOGIN in any case; anything else, even a name on Object.prototype, is a FAIL', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  for (const [i, mech] of ['CRAM-MD5', 'toString', '__proto__', 'constructor', 'hasOwnProperty', 'SCRAM-SHA-256', ''].entries()) {
    c.send(`AUTH\t${i + 1}\t${mech}\tresp=${plainResp('', 'alice', 'secret')}`);
    assert.equal(await c.line(), `FAIL\t${i + 1}\treason=Unsupported authentication mechanism`, mech);
  }
  c.send(`AUTH\t20\tpLaIn\tresp=${plainResp('', 'alice', 'secret')}`);
  assert.equal(await c.line(), 'OK\t20\tuser=alice');
  c.send('AUTH\t21\tlogin');
  assert.equal(await c.line(), `CONT\t21\t${b64('Username:')}`);
  assert.equal(s.checker.calls.length, 1);
});

test('AUTH parameters: service and rip reach the check, tab-unescaped; others are ignored', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  c.send(`AUTH\t1\tPLAIN\tservice=sm\x01ttp\tnologin\tlip=127.0.0.2\trip=127.0.0.9\tsecured\tresp=${plainResp('', 'alice', 'secret')}`);
  assert.equal(await c.line(), 'OK\t1\tuser=alice');
  // Without them the check gets no address or service (not an empty one, not the local address).
  c.send(`AUTH\t2\tPLAIN\tlip=127.0.0.2\txrip=127.0.0.3\tservicex=imap\tresp=${plainResp('', 'bob', 'secret')}`);
  assert.equal(await c.line(), 'OK\t2\tuser=bob');
  // A parameter named without a value is an empty one.
  c.send(`AUTH\t3\tPLAIN\trip\tservice=\tresp=${plainResp('', 'carol', 'secret')}`);
  assert.equal(await c.line(), 'OK\t3\tuser=carol');
  assert.deepEqual(
    s.checker.calls.map(({ username, password, ctx }) => ({ username, password, ctx })),
    [
      { username: 'alice', password: 'secret', ctx: { address: '127.0.0.9', service: 'sm\ttp' } },
      { username: 'bob', password: 'secret', ctx: { address: undefined, service: undefined } },
      { username: 'carol', password: 'secret', ctx: { address: '', service: '' } },
    ],
  );
});

test('resp= must be base64: anything else is a FAIL, and the check is never asked', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  const good = plainResp('', 'alice', 'secret');
  const bad = ['!!notbase64!!', `${good}!`, `!${good}`, `${good.replace(/=*$/, '')}===`, `${good.slice(0, 8)}=${good.slice(8)}`, 'AA AA', 'AA\x01tAA', 'AA-_', `${good}\x01n`];
  for (const [i, value] of bad.entries()) {
    c.send(`AUTH\t${i + 1}\tPLAIN\tservice=smtp\tresp=${value}`);
    assert.equal(await c.line(), `FAIL\t${i + 1}\treason=Invalid base64 data in initial response`, JSON.stringify(value));
  }
  assert.equal(s.checker.calls.length, 0);
  // The id of a refused AUTH is free again, and padding is optional.
  c.send(`AUTH\t1\tPLAIN\tresp=${b64('\0alice\0secret')}`);
  assert.equal(await c.line(), 'OK\t1\tuser=alice');
  c.send(`AUTH\t2\tPLAIN\tresp=${b64('\0bob\0secret!!').replace(/=+$/, '')}`);
  assert.equal(await c.line(), 'FAIL\t2\tuser=bob\treason=Authentication failed');
  // An empty initial response is a response (an empty PLAIN message), not a missing one.
  c.send('AUTH\t3\tPLAIN\tresp=');
  assert.equal(await c.line(), 'FAIL\t3\treason=Invalid PLAIN message');
  c.send('AUTH\t4\tPLAIN\tresp');
  assert.equal(await c.line(), 'FAIL\t4\treason=Invalid PLAIN message');
  assert.deepEqual(s.checker.calls.map((x) => [x.username, x.password]), [['alice', 'secret'], ['bob', 'secret!!']]);
});

test('PLAIN: an authorization identity other than the login, or a message without its NULs, is a FAIL', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  const cases: [string, string][] = [
    ['admin\0alice\0secret', 'Authorization identity differs from the login'],
    ['Alice\0alice\0secret', 'Authorization identity differs from the login'],
    ['alice\0alice\0secret\0', 'Invalid PLAIN message'],
    ['\0alice\0sec\0ret', 'Invalid PLAIN message'],
    ['alice\0secret', 'Invalid PLAIN message'],
    ['alicesecret', 'Invalid PLAIN message'],
  ];
  for (const [i, [msg, reason]] of cases.entries()) {
    c.send(`AUTH\t${i + 1}\tPLAIN\tresp=${b64(msg)}`);
    assert.equal(await c.line(), `FAIL\t${i + 1}\treason=${reason}`, JSON.stringify(msg));
  }
  assert.equal(s.checker.calls.length, 0);
  c.send(`AUTH\t10\tPLAIN\tresp=${b64('alice\0alice\0secret')}`);
  assert.equal(await c.line(), 'OK\t10\tuser=alice');
});

test('PLAIN without an initial response: an empty challenge, then the message by CONT', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  c.send('AUTH\t1\tPLAIN\tservice=smtp\trip=127.0.0.5');
  assert.equal(await c.line(), 'CONT\t1\t');
  c.send(`CONT\t1\t${plainResp('', 'alice', 'secret')}`);
  assert.equal(await c.line(), 'OK\t1\tuser=alice');
  assert.deepEqual(s.checker.calls[0]!.ctx, { address: '127.0.0.5', service: 'smtp' });
  // A bad message by CONT fails the request, whose id is then free.
  c.send('AUTH\t1\tPLAIN');
  assert.equal(await c.line(), 'CONT\t1\t');
  c.send(`CONT\t1\t${b64('admin\0alice\0secret')}`);
  assert.equal(await c.line(), 'FAIL\t1\treason=Authorization identity differs from the login');
  c.send(`AUTH\t1\tPLAIN\tresp=${plainResp('', 'alice', 'wrong')}`);
  assert.equal(await c.line(), 'FAIL\t1\tuser=alice\treason=Authentication failed');
});

test('LOGIN: the username and the password in two CONT round trips, or the username as initial response', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  c.send('AUTH\t1\tLOGIN\tservice=smtp');
  assert.equal(await c.line(), `CONT\t1\t${b64('Username:')}`);
  c.send(`CONT\t1\t${b64('alice')}`);
  assert.equal(await c.line(), `CONT\t1\t${b64('Password:')}`);
  c.send(`CONT\t1\t${b64('secret')}`);
  assert.equal(await c.line(), 'OK\t1\tuser=alice');
  c.send(`AUTH\t2\tLOGIN\tresp=${b64('bob')}`);
  assert.equal(await c.line(), `CONT\t2\t${b64('Password:')}`);
  // A CONT without data is an empty response: an empty password.
  c.send('CONT\t2');
  assert.equal(await c.line(), 'FAIL\t2\tuser=bob\treason=Authentication failed');
  assert.deepEqual(s.checker.calls.map((x) => [x.username, x.password]), [['alice', 'secret'], ['bob', '']]);
});

test('CONT for no request, for a request being checked, or without an id closes the connection', async (t) => {
  const s = await serve(t);
  // Unknown id.
  const a = await s.open();
  a.send('CONT\t99\tAAAA');
  assert.equal(await a.line(), null);
  // No id at all.
  const b = await s.open();
  b.send('CONT');
  assert.equal(await b.line(), null);
  // The id of a request that already got its OK.
  const c = await s.open();
  assert.equal(await c.plain(1, 'alice', 'secret'), 'OK\t1\tuser=alice');
  c.send(`CONT\t1\t${b64('secret')}`);
  assert.equal(await c.line(), null);
  // A request whose credentials are being checked: a second password must not slip in.
  s.checker.hold = true;
  const d = await s.open();
  d.send('AUTH\t1\tLOGIN');
  assert.equal(await d.line(), `CONT\t1\t${b64('Username:')}`);
  d.send(`CONT\t1\t${b64('alice')}`);
  assert.equal(await d.line(), `CONT\t1\t${b64('Password:')}`);
  d.send(`CONT\t1\t${b64('wrong')}`);
  const check = await s.checker.call(2);
  d.send(`CONT\t1\t${b64('secret')}`);
  assert.equal(await d.line(), null);
  check.answer(OK);
  assert.equal(s.checker.calls.length, 2, 'the CONT during the check was checked');
  assert.deepEqual(
    s.warned('CONT for no waiting request; closing').map((o) => o['id']),
    ['99', undefined, '1', '1'],
  );
  // Positive control: a CONT for a request waiting for one is served.
  s.checker.hold = false;
  const e = await s.open();
  e.send('AUTH\t3\tPLAIN');
  assert.equal(await e.line(), 'CONT\t3\t');
  e.send(`CONT\t3\t${plainResp('', 'alice', 'secret')}`);
  assert.equal(await e.line(), 'OK\t3\tuser=alice');
});

test('CONT with bad base64 fails its request and frees its id', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  for (const data of ['!!', `${b64('alice')}!`, `!${b64('alice')}`, 'AA===']) {
    c.send('AUTH\t1\tLOGIN');
    assert.equal(await c.line(), `CONT\t1\t${b64('Username:')}`);
    c.send(`CONT\t1\t${data}`);
    assert.equal(await c.line(), 'FAIL\t1\treason=Invalid base64 data in continued response', data);
  }
  // The failed request is gone: a CONT for it closes.
  c.send(`CONT\t1\t${b64('alice')}`);
  assert.equal(await c.line(), null);
  assert.equal(s.checker.calls.length, 0);
});

test('an id in use is refused without disturbing its request', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  c.send('AUTH\t1\tPLAIN');
  assert.equal(await c.line(), 'CONT\t1\t');
  c.send(`AUTH\t1\tPLAIN\tresp=${plainResp('', 'mallory', 'secret')}`);
  assert.equal(await c.line(), 'FAIL\t1\treason=Request id already in use');
  c.send(`CONT\t1\t${plainResp('', 'alice', 'secret')}`);
  assert.equal(await c.line(), 'OK\t1\tuser=alice');
  assert.deepEqual(s.checker.calls.map((x) => x.username), ['alice']);
  // Once answered, the id may be used again.
  assert.equal(await c.plain(1, 'bob', 'secret'), 'OK\t1\tuser=bob');
});

test('requests in progress are bounded per connection (a temporary FAIL past the bound)', async (t) => {
  const s = await serve(t, { maxRequests: 3 });
  const c = await s.open();
  for (let i = 1; i <= 3; i++) {
    c.send(`AUTH\t${i}\tPLAIN`);
    assert.equal(await c.line(), `CONT\t${i}\t`);
  }
  c.send(`AUTH\t4\tPLAIN\tresp=${plainResp('', 'alice', 'secret')}`);
  assert.equal(await c.line(), 'FAIL\t4\tcode=temp_fail\ttemp\treason=Too many requests in progress');
  // One answered: room for one more.
  c.send(`CONT\t2\t${plainResp('', 'alice', 'secret')}`);
  assert.equal(await c.line(), 'OK\t2\tuser=alice');
  c.send(`AUTH\t4\tPLAIN\tresp=${plainResp('', 'bob', 'secret')}`);
  assert.equal(await c.line(), 'OK\t4\tuser=bob');
  // Two in progress (1 and 3); a cancelled one makes room too.
  c.send('CANCEL\t1');
  for (const id of [5, 6]) {
    c.send(`AUTH\t${id}\tPLAIN`);
    assert.equal(await c.line(), `CONT\t${id}\t`);
  }
  c.send('AUTH\t7\tPLAIN');
  assert.equal(await c.line(), 'FAIL\t7\tcode=temp_fail\ttemp\treason=Too many requests in progress');
});

test('the default bound is 100 requests in progress', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  c.socket.write(Array.from({ length: 100 }, (_, i) => `AUTH\t${i + 1}\tPLAIN\n`).join(''));
  for (let i = 1; i <= 100; i++) assert.equal(await c.line(), `CONT\t${i}\t`);
  c.send('AUTH\t101\tPLAIN');
  assert.equal(await c.line(), 'FAIL\t101\tcode=temp_fail\ttemp\treason=Too many requests in progress');
});

test('CANCEL: a cancelled check is never answered, even when its id is used again at once', async (t) => {
  const s = await serve(t);
  s.checker.hold = true;
  const c = await s.open();
  c.send(`AUTH\t1\tPLAIN\tresp=${plainResp('', 'mallory', 'guess')}`);
  const first = await s.checker.call(1);
  c.send('CANCEL\t1');
  c.send(`AUTH\t1\tPLAIN\tresp=${plainResp('', 'alice', 'wrong')}`);
  const second = await s.checker.call(2);
  // The first check says yes: that must not answer the request now holding id 1.
  first.answer({ ok: true, user: 'mallory' });
  s.checker.hold = false;
  await s.probe(c);
  second.answer(WRONG);
  assert.equal(await c.line(), 'FAIL\t1\tuser=alice\treason=Authentication failed');
  // A cancelled request waiting for a CONT is gone too.
  c.send('AUTH\t2\tLOGIN');
  assert.equal(await c.line(), `CONT\t2\t${b64('Username:')}`);
  c.send('CANCEL\t2');
  c.send('CANCEL');
  c.send('CANCEL\t12345');
  await s.probe(c);
  c.send(`CONT\t2\t${b64('alice')}`);
  assert.equal(await c.line(), null);
});

test('a check answered after its connection closed writes nothing and does not throw', async (t) => {
  const s = await serve(t);
  s.checker.hold = true;
  const c = await s.open();
  c.send(`AUTH\t1\tPLAIN\tresp=${plainResp('', 'alice', 'secret')}`);
  const check = await s.checker.call(1);
  c.close();
  // The server sees the close before the answer comes.
  const d = await s.open();
  d.send(`AUTH\t1\tPLAIN\tresp=${plainResp('', 'bob', 'secret')}`);
  const other = await s.checker.call(2);
  check.answer(OK);
  other.answer({ ok: true, user: 'bob' });
  assert.equal(await d.line(), 'OK\t1\tuser=bob');
});

test('answers are tab-escaped: a name with TAB or LF cannot add a field or a line', async (t) => {
  const s = await serve(t);
  const c = await s.open();
  const evil = 'alice\tuser=admin\nOK\t77\tuser=admin\r\x01';
  const escaped = 'alice\x01tuser=admin\x01nOK\x01t77\x01tuser=admin\x01r\x011';
  assert.equal(await c.plain(1, evil, 'secret'), `OK\t1\tuser=${escaped}`);
  assert.equal(await c.plain(2, evil, 'wrong'), `FAIL\t2\tuser=${escaped}\treason=Authentication failed`);
  // A NUL cannot be in a PLAIN name, but can in a LOGIN one.
  c.send(`AUTH\t4\tLOGIN\tresp=${b64('a\0b')}`);
  assert.equal(await c.line(), `CONT\t4\t${b64('Password:')}`);
  c.send(`CONT\t4\t${b64('secret')}`);
  assert.equal(await c.line(), 'OK\t4\tuser=a\x010b');
  // And a reason too.
  s.checker.hold = true;
  c.send(`AUTH\t3\tPLAIN\tresp=${plainResp('', 'bob', 'secret')}`);
  (await s.checker.call(4)).answer({ ok: false, temporary: true, reason: 'down\tuser=x\nOK\t3' });
  assert.equal(await c.line(), 'FAIL\t3\tuser=bob\tcode=temp_fail\ttemp\treason=down\x01tuser=x\x01nOK\x01t3');
  s.checker.hold = false;
  await s.probe(c);
});

test('a line of MAX_LINE_BYTES is served; a longer one closes the connection before it is read', async (t) => {
  assert.equal(MAX_LINE_BYTES, 16384);
  const s = await serve(t, { cuid: 31 });
  const line = (total: number) => {
    const head = `AUTH\t1\tPLAIN\tresp=${plainResp('', 'alice', 'secret')}\tx=`;
    return head + 'a'.repeat(total - head.length);
  };
  const c = await s.open();
  c.send(line(MAX_LINE_BYTES));
  assert.equal(await c.line(), 'OK\t1\tuser=alice');
  const d = await s.open();
  d.send(`${line(MAX_LINE_BYTES + 1)}\nAUTH\t2\tPLAIN\tresp=${plainResp('', 'alice', 'secret')}`);
  assert.equal(await d.line(), null);
  // Too long even before its end arrives.
  const e = await s.open();
  e.socket.write('AUTH\t1\tPLAIN\tresp=' + 'A'.repeat(MAX_LINE_BYTES + 10));
  assert.equal(await e.line(), null);
  assert.equal(s.checker.calls.length, 1);
  assert.deepEqual(s.warned('dovecot client sent an overlong line; closing'), [{ cuid: 31 }, { cuid: 31 }]);
});
