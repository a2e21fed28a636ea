/**
 * ejabberd 23.01's extauth workers sharing one `gatehouse serve`: each worker's
 * `extauth_program` is `gatehouse-extauth-connect <extauth_socket>` (the C program built into
 * dist/connector/, a few hundred kB; the Perl one in bin/ for the first test too), and
 * every query is answered by serve's one pool, throttle and log. Real ejabberd, real SASL PLAIN
 * logins (slixmpp), real account commands; what happens when serve restarts, when a worker's
 * program is killed, and when the socket is missing at ejabberd's start. The C connector hands
 * its worker's pipes to serve (src/bridge/handoff.ts): serve's log says so for each worker.
 */
import assert from 'node:assert/strict';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fixture, ROOT } from '../helpers/paths.js';
import { startEjabberd, type Ejabberd } from './ejabberd.js';
import { startServe, type ServeProcess } from './serve-process.js';
import { xmppLoginDetailed } from './xmpp.js';

const CONNECT = join(ROOT, 'dist', 'connector', 'gatehouse-extauth-connect');
const CONNECT_PERL = join(ROOT, 'bin', 'gatehouse-extauth-connect');

interface SocketRig {
  dir: string;
  socket: string;
  record: string;
  users: string;
  serve: ServeProcess | null;
  ej: Ejabberd | null;
  startServe(extra?: string): Promise<ServeProcess>;
}

function rig(t: { after(fn: () => Promise<void>): void }): SocketRig {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ejsock-'));
  chmodSync(dir, 0o755);
  const r: SocketRig = {
    dir,
    socket: join(dir, 'extauth.sock'),
    record: join(dir, 'queries.hex'),
    users: join(dir, 'users.json'),
    serve: null,
    ej: null,
    async startServe(extra = '') {
      const s = await startServe(
        [process.execPath, fixture('users-file.mjs')],
        `extauth_socket = ${JSON.stringify(r.socket)}\nexternal_auth_processes = 2\n${extra}`,
        { USERS_FILE: r.users, RECORD_FILE: r.record },
        'extauth protocol listening',
      );
      r.serve = s;
      return s;
    },
  };
  writeFileSync(r.users, JSON.stringify({ localhost: { alice: 'wonderland', bob: 'builder', carol: 'c:ol:ön€' } }));
  t.after(async () => {
    await r.ej?.stop();
    await r.serve?.stop();
    rmSync(dir, { recursive: true, force: true });
  });
  return r;
}


const HANDOFF_LINE = 'extauth handoff: serving the worker on its own pipes';
const handoffsIn = (s: ServeProcess): number => s.stderr().split(HANDOFF_LINE).length - 1;

function ejabberdFor(r: SocketRig, poolSize: number, connector = CONNECT): Promise<Ejabberd> {
  return startEjabberd({ extauthProgram: `${connector} ${r.socket}`, poolSize }).then((ej) => (r.ej = ej));
}

async function login(ej: Ejabberd, user: string, password: string): Promise<{ ok: boolean; line: string }> {
  return xmppLoginDetailed({ port: ej.port, jid: `${user}@${ej.host}`, password, timeoutMs: 40_000 });
}

function recorded(r: SocketRig): string[] {
  if (!existsSync(r.record)) return [];
  return readFileSync(r.record, 'utf8').split('\n').filter(Boolean).map((h) => Buffer.from(h, 'hex').toString());
}

/** Logins until one succeeds (bounded); every failure must be a refusal, never a wrong yes. */
async function untilAccepted(ej: Ejabberd, user: string, password: string, tries = 30): Promise<number> {
  for (let i = 1; i <= tries; i++) {
    if ((await login(ej, 'alice', 'not-her-password')).ok) throw new Error('a wrong password was accepted');
    if ((await login(ej, user, password)).ok) return i;
    await new Promise((res) => setTimeout(res, 500));
  }
  throw new Error(`${user} was not accepted after ${tries} tries`);
}

for (const [name, connector] of [['C', CONNECT], ['Perl', CONNECT_PERL]] as const) {
  test(`ejabberd workers through gatehouse-extauth-connect (${name}): logins and account commands through one pool`, async (t) => {
    const r = rig(t);
    await r.startServe();
    const ej = await ejabberdFor(r, 4, connector);
    const [a, b, wrong, unknown, utf8] = await Promise.all([
      login(ej, 'alice', 'wonderland'),
      login(ej, 'bob', 'builder'),
      login(ej, 'alice', 'builder'),
      login(ej, 'mallory', 'x'),
      login(ej, 'carol', 'c:ol:ön€'),
    ]);
    assert.ok(a.ok && b.ok && utf8.ok, `${a.line} ${b.line} ${utf8.line}\n${ej.logTail(20)}`);
    assert.ok(!wrong.ok && !unknown.ok);
    // The C connector hands each worker's pipes to serve; the Perl one relays.
    assert.equal(handoffsIn(r.serve!), name === 'C' ? 4 : 0, r.serve!.stderr());
    // Account commands through the same socket.
    const change = await ej.ctl(['change_password', 'bob', 'localhost', 'n3w:pw'], { timeoutMs: 20_000 });
    assert.equal(change.code, 0, change.stderr);
    assert.ok((await login(ej, 'bob', 'n3w:pw')).ok);
    assert.ok(!(await login(ej, 'bob', 'builder')).ok);
    assert.ok(recorded(r).includes('setpass:bob:localhost:n3w:pw'), recorded(r).join(' | '));
    // One failure count for the user across the workers: see test/bridge/socket-server.test.ts,
    // where the clock can be held still (past the limit the wait is a second, on these faces).
    const guesses = await Promise.all([1, 2, 3].map((i) => login(ej, 'carol', `guess-${i}`)));
    assert.ok(guesses.every((g) => !g.ok));
  });
}

for (const how of ['SIGTERM', 'SIGKILL'] as const) {
  test(`serve restarting (${how}): logins in the gap fail, never succeed, and work again without restarting ejabberd`, async (t) => {
    const r = rig(t);
    await r.startServe();
    const ej = await ejabberdFor(r, 2);
    assert.ok((await login(ej, 'alice', 'wonderland')).ok);
    assert.equal(handoffsIn(r.serve!), 2);
    // SIGKILL: serve gone at once, without a word to the workers; their connectors take their
    // pipes back when the lifeline breaks.
    if (how === 'SIGTERM') await r.serve!.stop();
    else await r.serve!.kill();
    r.serve = null;
    const gap = await Promise.all([login(ej, 'alice', 'wonderland'), login(ej, 'bob', 'wrong')]);
    assert.ok(gap.every((g) => !g.ok), 'no login gets in while serve is down');
    await r.startServe();
    const tries = await untilAccepted(ej, 'alice', 'wonderland');
    t.diagnostic(`accepted again after ${tries} round(s)`);
    assert.ok(!(await login(ej, 'bob', 'wrong')).ok);
    assert.ok((await login(ej, 'bob', 'builder')).ok);
    // Each worker relays its first query to the new serve, then hands its pipes over again.
    for (let i = 0; i < 4; i++) assert.ok((await login(ej, 'bob', 'builder')).ok);
    assert.ok(handoffsIn(r.serve!) >= 1, r.serve!.stderr());
  });
}

test("a worker's program killed: the next logins work, no wrong yes", async (t) => {
  const r = rig(t);
  await r.startServe();
  const ej = await ejabberdFor(r, 2);
  assert.ok((await login(ej, 'alice', 'wonderland')).ok);
  const workers = ej.childPids().filter((pid) => {
    try {
      return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(CONNECT);
    } catch {
      return false;
    }
  });
  assert.equal(workers.length, 2, 'one connector per worker');
  process.kill(workers[0]!, 'SIGKILL');
  await untilAccepted(ej, 'bob', 'builder');
  assert.ok((await login(ej, 'alice', 'wonderland')).ok);
});

test("the socket missing at ejabberd's start: logins fail until serve is up, then work", async (t) => {
  const r = rig(t);
  const ej = await ejabberdFor(r, 2);
  assert.ok(!(await login(ej, 'alice', 'wonderland')).ok, 'no socket: refused');
  await r.startServe();
  await untilAccepted(ej, 'alice', 'wonderland', 60);
  assert.ok(!(await login(ej, 'alice', 'nope')).ok);
});
