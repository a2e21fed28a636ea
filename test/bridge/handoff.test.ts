/**
 * The connector's handoff (bridge/handoff.ts): the C gatehouse-extauth-connect gives serve its
 * worker's stdin and stdout, and serve answers the worker on them directly. A real serve socket
 * (ExtauthSocketServer, a real script), the real connector as a worker's program; the attacks
 * send their own hellos with descriptors (Python's socket.send_fds), as any local user allowed
 * on the socket could.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Accounts } from '../../src/accounts/accounts.js';
import { fdPass, HANDOFF_ACK, HANDOFF_HELLO } from '../../src/bridge/handoff.js';
import { ExtauthSocketServer } from '../../src/bridge/socket-server.js';
import { parseConfigText } from '../../src/config/load.js';
import { createRegistry, type Registry } from '../../src/metrics/registry.js';
import { killQuiet, rmQuiet } from '../helpers/cleanup.js';
import { waitFor } from '../helpers/engine.js';
import { frame, Worker } from '../helpers/extauth-worker.js';
import { MemoryLogger } from '../helpers/log.js';
import { fixture, ROOT } from '../helpers/paths.js';

const CONNECTOR = join(ROOT, 'dist', 'connector', 'gatehouse-extauth-connect');
const YES = Buffer.from([0, 2, 0, 1]);
const NO = Buffer.from([0, 2, 0, 0]);
const PYTHON = existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3';

interface Rig {
  path: string;
  dir: string;
  log: MemoryLogger;
  metrics: Registry;
  server: ExtauthSocketServer;
  /** Starts another server on the same path (after `server.close()`). */
  restart(): Promise<ExtauthSocketServer>;
  worker(args?: string[]): Worker;
}

async function rig(t: TestContext, script = 'fast.mjs', env: Record<string, string> = {}, handoff?: boolean): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-handoff-'));
  const path = join(dir, 'extauth.sock');
  const config = parseConfigText(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture(script))}]\nexternal_auth_processes = 2`);
  Object.assign(process.env, env);
  const accounts = new Accounts(config);
  const servers: ExtauthSocketServer[] = [];
  const workers: Worker[] = [];
  const log = new MemoryLogger();
  const start = async (): Promise<{ server: ExtauthSocketServer; metrics: Registry }> => {
    const metrics = createRegistry({ processMetrics: false });
    const server = new ExtauthSocketServer({ accounts, protocol: 'ejabberd', callerTimeoutMs: 30_000, limits: { maxFieldBytes: 1023, maxQueryBytes: 4096 }, metrics, handoff, logger: log });
    servers.push(server);
    await server.listen({ socket: path });
    return { server, metrics };
  };
  t.after(async () => {
    for (const w of workers) killQuiet(w.child.pid!, 'SIGKILL');
    for (const s of servers) await s.close();
    // Forced: a test may leave a script busy with a query nobody waits for any more.
    await accounts.close({ force: true });
    for (const k of Object.keys(env)) delete process.env[k];
    rmQuiet(dir);
  });
  const first = await start();
  const r: Rig = {
    path,
    dir,
    log,
    metrics: first.metrics,
    server: first.server,
    restart: async () => {
      const next = await start();
      r.metrics = next.metrics;
      r.server = next.server;
      return next.server;
    },
    worker: (args = [path]) => {
      const w = new Worker(CONNECTOR, args);
      workers.push(w);
      return w;
    },
  };
  return r;
}

const handoffs = async (m: Registry, outcome: 'taken' | 'refused'): Promise<number> => {
  const line = (await m.metrics()).split('\n').find((l) => l.startsWith(`gatehouse_extauth_handoffs_total{outcome="${outcome}"}`));
  return line === undefined ? 0 : Number(line.split(' ')[1]);
};

/** How often a process has gone to sleep waiting (and so been woken): /proc/PID/status. */
function wakeups(pid: number): number {
  const s = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/^voluntary_ctxt_switches:\s+(\d+)/m.exec(s)![1]);
}

const openFds = (): number => readdirSync('/proc/self/fd').length;

const ready = (): boolean => existsSync(CONNECTOR) && fdPass() !== null;
const skip = ready() ? false : 'the C connector or the fdpass addon was not built (no C compiler)';

test('the C connector hands its pipes over: serve answers the worker on them, and the connector is off the path', { skip }, async (t) => {
  const r = await rig(t);
  assert.equal(r.server.handoff, true);
  // Only where the connector speaks: the generic protocol's callers (socat) are served as streams.
  assert.equal(new ExtauthSocketServer({ accounts: { query: async () => false }, protocol: 'generic', callerTimeoutMs: 30_000, limits: { maxFieldBytes: 1023, maxQueryBytes: 4096 } }).handoff, false);
  const w = r.worker();
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.equal(await handoffs(r.metrics, 'taken'), 1);
  const before = wakeups(w.child.pid!);
  for (let i = 0; i < 50; i++) {
    assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
    assert.deepEqual(await w.ask('auth:alice:localhost:wrong'), NO);
  }
  // 100 queries answered, and the connector was not woken for them: serve read and wrote the pipes.
  assert.ok(wakeups(w.child.pid!) - before < 5, `the connector woke ${wakeups(w.child.pid!) - before} times for 100 queries`);
  // Lockstep holds on the pipes too: two frames in one write get one "no", nothing asked.
  w.child.stdin!.write(Buffer.concat([frame('auth:alice:localhost:secret'), frame('isuser:alice:localhost')]));
  assert.deepEqual(await w.read(), NO);
  assert.equal(w.extra, 0);
});

test('a dozen workers on their pipes at once: each answered, and no warning of a listener leak', { skip }, async (t) => {
  const r = await rig(t);
  const warnings: string[] = [];
  const onWarning = (w: Error): void => void warnings.push(`${w.name}: ${w.message}`);
  process.on('warning', onWarning);
  t.after(() => process.off('warning', onWarning));
  const workers = Array.from({ length: 12 }, () => r.worker());
  const answers = await Promise.all(workers.map((w, i) => w.ask(`auth:alice:localhost:${i % 2 === 0 ? 'secret' : 'wrong'}`)));
  assert.deepEqual(answers, workers.map((_, i) => (i % 2 === 0 ? YES : NO)));
  assert.equal(await handoffs(r.metrics, 'taken'), 12);
  await new Promise((res) => setImmediate(res));
  assert.deepEqual(warnings, []);
});

test("the connector killed: serve lets go of the worker's pipes, so the worker sees its program end", { skip }, async (t) => {
  const r = await rig(t);
  const w = r.worker();
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  const ended = new Promise<void>((resolve) => w.child.stdout!.once('end', resolve));
  let sawEnd = false;
  void ended.then(() => (sawEnd = true));
  killQuiet(w.child.pid!, 'SIGKILL');
  // Without serve closing its copy, the worker's stdout would stay open (and ejabberd would wait).
  assert.ok(await waitFor(() => sawEnd, 20_000), "the worker's stdout never ended");
  assert.ok(await waitFor(() => r.server.connections === 0, 20_000));
});

test("the connector killed while its caller keeps the pipes open: serve lets go of them because the lifeline broke", { skip }, async (t) => {
  const r = await rig(t);
  // As ejabberd's pipes (FIFOs), but the caller does not close the worker's stdin when its
  // program dies: only the lifeline tells serve.
  const res = await python(
    `
import os, select, subprocess, sys
r_in, w_in = os.pipe()
r_out, w_out = os.pipe()
p = subprocess.Popen([sys.argv[1], sys.argv[2]], stdin=r_in, stdout=w_out)
os.close(r_in); os.close(w_out)
q = b'auth:alice:localhost:secret'
os.write(w_in, bytes([0, len(q)]) + q)
answer = os.read(r_out, 4)
p.kill(); p.wait()
ready = select.select([r_out], [], [], 20)[0]
rest = os.read(r_out, 16) if ready else None
print(answer.hex(), 'EOF' if rest == b'' else 'OPEN' if rest is None else rest.hex())
`,
    [CONNECTOR, r.path],
  );
  assert.equal(res.code, 0, res.stderr);
  assert.equal(res.out.toString().trim(), `${YES.toString('hex')} EOF`, 'the answer on the pipe, then its end once the connector is gone');
  assert.equal(await handoffs(r.metrics, 'taken'), 1);
});

test('the worker stopping (its stdin closed) while serve holds the pipes: the connector exits 0, the connection ends', { skip }, async (t) => {
  const r = await rig(t);
  const w = r.worker();
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  w.child.stdin!.end();
  assert.equal(await w.exited, 0);
  assert.ok(await waitFor(() => r.server.connections === 0, 20_000));
});

test('serve stopping with a query in progress: serve answers it "no"; the connector relays while serve is gone and hands over again when it is back', { skip }, async (t) => {
  const gates = mkdtempSync(join(tmpdir(), 'gh-handoff-gates-'));
  t.after(() => rmQuiet(gates));
  const r = await rig(t, 'slow.mjs', { FIXTURE_GATE_DIR: gates, FIXTURE_DELAY_MS: '0' });
  const w = r.worker();
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.equal(await handoffs(r.metrics, 'taken'), 1);
  // A query the script holds until the gate file exists (never): serve stops meanwhile.
  const pending = w.ask('auth:alice:localhost:gate-never');
  await waitFor(() => r.server.connections === 1);
  await new Promise((res) => setTimeout(res, 100));
  await r.server.close();
  assert.deepEqual(await pending, NO, 'the query in progress is answered "no", never left waiting');
  assert.ok(r.log.entries.some((e) => e.msg === 'query answered no: the service is stopping' && e.obj.user === 'alice'));
  // serve gone: "no" at once, from the connector.
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), NO);
  await r.restart();
  // The first query after serve is back is relayed, then the pipes are handed over again.
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.equal(await handoffs(r.metrics, 'taken'), 1);
  assert.deepEqual(await w.ask('auth:alice:localhost:wrong'), NO);
  assert.equal(w.extra, 0);
});

test('--relay never hands over; a socat-like connection that is silent at first is served as a stream', { skip }, async (t) => {
  const r = await rig(t);
  const w = r.worker([r.path, '--relay']);
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.equal(await handoffs(r.metrics, 'taken'), 0);
  // A connection whose first query comes after serve has looked at it several times.
  const c = connect(r.path);
  t.after(() => c.destroy());
  await new Promise((res) => c.once('connect', res));
  await new Promise((res) => setTimeout(res, 500));
  const answer = new Promise<Buffer>((res) => c.once('data', res));
  c.write(frame('auth:alice:localhost:secret'));
  assert.deepEqual(await answer, YES);
});

test('a serve that does not take pipes answers the offer "no": the connector relays over that same connection', { skip }, async (t) => {
  const r = await rig(t, 'fast.mjs', {}, false);
  assert.equal(r.server.handoff, false);
  const w = r.worker();
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.deepEqual(await w.ask('auth:alice:localhost:wrong'), NO);
  assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.equal(r.server.connections, 1, 'one connection: the offer and then every query');
  assert.equal(await handoffs(r.metrics, 'taken'), 0);
  // Relaying: the connector is woken for each query.
  const before = wakeups(w.child.pid!);
  for (let i = 0; i < 10; i++) assert.deepEqual(await w.ask('auth:alice:localhost:secret'), YES);
  assert.ok(wakeups(w.child.pid!) - before >= 10);
});

/** A Python program run with `args`: what it printed, its exit code and stderr; killed after 60 s. */
function python(program: string, args: string[]): Promise<{ out: Buffer; code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const p = spawn(PYTHON, ['-c', program, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = Buffer.alloc(0);
    let stderr = '';
    p.stdout.on('data', (d: Buffer) => (out = Buffer.concat([out, d])));
    p.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => p.kill('SIGKILL'), 60_000);
    p.once('close', (code) => {
      clearTimeout(timer);
      resolve({ out, code, stderr });
    });
  });
}

/** A hello sent by Python to serve's socket at `path` (PY_HEAD connects it): what serve wrote back. */
const attack = (path: string, program: string): ReturnType<typeof python> => python(program, [path]);

const PY_HEAD = `
import os, socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.connect(sys.argv[1])
s.settimeout(20)
hello = bytes.fromhex('${HANDOFF_HELLO.toString('hex')}')
def rest():
    out = b''
    while True:
        try:
            d = s.recv(64)
        except ConnectionResetError:
            return out
        if not d: return out
        out += d
def upto(n):
    out = b''
    while len(out) < n:
        try:
            d = s.recv(n - len(out))
        except ConnectionResetError:
            return out
        if not d: return out
        out += d
    return out
`;

/**
 * Python: two pipes handed over as a connector's stdin (r1, written by w1) and stdout (w2, read
 * from r2) by `send`; then serve's reply (`ack`) and the answer to one query written on them.
 */
const handOver = (send: string): string => `${PY_HEAD}
r1, w1 = os.pipe()
r2, w2 = os.pipe()
${send}
os.close(r1); os.close(w2)
ack = upto(4)
os.write(w1, bytes.fromhex('001b') + b'auth:alice:localhost:secret')
answer = os.read(r2, 4)`;

test('hostile hellos are refused, their descriptors closed, and nothing is answered on them', { skip }, async (t) => {
  const r = await rig(t);
  const fds = openFds();
  // [name, what to send, whether the hello is read (then "no", as to a connector that must relay), the reason logged]
  const cases: [string, string, boolean, string][] = [
    ['no descriptors', `s.sendall(hello)`, true, 'a hello with 0 descriptors, not 2; answered no'],
    ['one descriptor', `r, w = os.pipe()\nsocket.send_fds(s, [hello], [r])`, true, 'a hello with 1 descriptors, not 2;'],
    ['three descriptors', `a, b = os.pipe()\nc, d = os.pipe()\nsocket.send_fds(s, [hello], [a, b, c])`, true, 'a hello with 3 descriptors, not 2;'],
    ['ten descriptors', `ps = [os.pipe() for _ in range(5)]\nsocket.send_fds(s, [hello], [f for p in ps for f in p])`, true, 'a hello with 8 or more descriptors, not 2;'],
    ['a regular file', `f = os.open('/etc/hostname', os.O_RDONLY)\nr, w = os.pipe()\nsocket.send_fds(s, [hello], [f, w])`, true, 'a handed-off descriptor that is not a pipe or a socket (other);'],
    ['a regular file second', `f = os.open('/etc/hostname', os.O_RDONLY)\nr, w = os.pipe()\nsocket.send_fds(s, [hello], [r, f])`, true, 'a handed-off descriptor that is not a pipe or a socket (other);'],
    ['a datagram socket first', `u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nr, w = os.pipe()\nsocket.send_fds(s, [hello], [u.fileno(), w])`, true, 'the handed-off descriptors cannot be used:'],
    ['a datagram socket second', `u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\nr, w = os.pipe()\nsocket.send_fds(s, [hello], [r, u.fileno()])`, true, 'the handed-off descriptors cannot be used:'],
    ['only part of the hello, then nothing', `r, w = os.pipe()\nsocket.send_fds(s, [hello[:7]], [r, w])`, false, 'an incomplete hello; connection closed'],
  ];
  for (const [name, send, consumed, why] of cases) {
    const logged = r.log.entries.length;
    const res = await attack(r.path, `${PY_HEAD}\n${send}\nsys.stdout.buffer.write(upto(4))`);
    assert.equal(res.code, 0, `${name}: ${res.stderr}`);
    assert.deepEqual(res.out, consumed ? NO : Buffer.alloc(0), name);
    const said = r.log.entries.slice(logged).map((e) => e.msg ?? '');
    assert.ok(said.some((m) => m.includes(`extauth handoff refused: ${why}`)), `${name}: ${said.join(' | ')}`);
  }
  assert.equal(await handoffs(r.metrics, 'taken'), 0);
  assert.equal(await handoffs(r.metrics, 'refused'), cases.length);
  // Every descriptor that came with a refused hello was closed.
  assert.ok(await waitFor(() => openFds() <= fds, 20_000), `${openFds() - fds} descriptors left open`);
  // A refused hello's connection is then served as a stream, as a relaying connector needs.
  const res = await attack(r.path, `${PY_HEAD}\ns.sendall(hello)\nno = upto(4)\ns.sendall(bytes.fromhex('001b') + b'auth:alice:localhost:secret')\nsys.stdout.buffer.write(no + upto(4))`);
  assert.deepEqual(res.out, Buffer.concat([NO, YES]), res.stderr);
});

test('a hello in two writes, the descriptors on the second, is taken', { skip }, async (t) => {
  const r = await rig(t);
  const send = `s.sendall(hello[:5])\nimport time; time.sleep(0.3)\nsocket.send_fds(s, [hello[5:]], [r1, w2])`;
  const res = await attack(r.path, `${handOver(send)}\nsys.stdout.buffer.write(ack + answer)`);
  assert.deepEqual(res.out, Buffer.concat([HANDOFF_ACK, YES]), res.stderr);
});

test('a connection that closes before its first byte is let go of: nothing is left polling it', { skip }, async (t) => {
  const r = await rig(t);
  for (let i = 0; i < 3; i++) {
    const c = connect(r.path);
    await new Promise((res) => c.once('connect', res));
    c.end();
  }
  assert.ok(await waitFor(() => r.server.connections === 0, 20_000), `${r.server.connections} connections still open`);
  // Let go of as connections that ended: not a handoff, not a refusal, not a failure.
  assert.equal(await handoffs(r.metrics, 'refused'), 0);
  assert.equal(await handoffs(r.metrics, 'taken'), 0);
  assert.deepEqual(r.log.entries.filter((e) => e.level === 'error' || e.level === 'warn'), []);
  // The same for a connection still silent when serve stops.
  const silent = connect(r.path);
  t.after(() => silent.destroy());
  await new Promise((res) => silent.once('connect', res));
  await waitFor(() => r.server.connections === 1);
  await r.server.close();
  assert.ok(await waitFor(() => r.server.connections === 0, 20_000));
  await new Promise((res) => setTimeout(res, 300));
  assert.equal(await handoffs(r.metrics, 'taken'), 0);
  assert.deepEqual(r.log.entries.filter((e) => e.level === 'error' || e.level === 'warn'), []);
});

test('bytes on the lifeline after a handoff end it: serve lets go of the pipes', { skip }, async (t) => {
  const r = await rig(t);
  const res = await attack(
    r.path,
    `${handOver('socket.send_fds(s, [hello], [r1, w2])')}
s.sendall(b'x')
end = rest()
os.close(w1)
left = os.read(r2, 64)
sys.stdout.buffer.write(ack + answer + bytes([len(end), len(left)]))
`,
  );
  assert.equal(res.code, 0, res.stderr);
  assert.deepEqual(res.out.subarray(0, 4), HANDOFF_ACK);
  assert.deepEqual(res.out.subarray(4, 8), YES, 'the query written on the handed-off pipe was answered on the other');
  // After the stray byte: the lifeline closed (EOF) and the answer pipe closed with nothing more.
  assert.deepEqual([...res.out.subarray(8)], [0, 0]);
  assert.ok(r.log.entries.some((e) => e.level === 'warn' && e.msg === 'extauth handoff: bytes from the connector after its handoff; closing'));
});
