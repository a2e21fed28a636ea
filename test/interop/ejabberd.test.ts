/**
 * ejabberd 23.01 authenticating through `gatehouse extauth`, for real: ejabberd's
 * `extauth_program` is the bridge (`--serve-protocol ejabberd`), which runs an auth script of
 * either protocol in its own pool. Every check is a real c2s SASL PLAIN login (slixmpp) or a
 * real `ejabberdctl` account command against a private ejabberd on loopback
 * (test/interop/ejabberd.ts; test/interop/EJABBERD_NOTES.md).
 *
 * One ejabberd per configuration, reused by the tests of its suite; the next suite's ejabberd
 * starts while the current suite runs (a start costs ~1.5 s). A missing ejabberd or slixmpp
 * fails these tests: they never skip.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GATEHOUSE_BIN, example, fixture } from '../helpers/paths.js';
import { ejabberdAvailable, startEjabberd, type CtlResult, type Ejabberd } from './ejabberd.js';
import { slixmppPython, xmppLoginDetailed, type XmppLoginResult } from './xmpp.js';

const PYTHON = slixmppPython();
const USERS_TXT = example('scripts', 'users.txt');
const sha256 = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
// The suites work on copies; the repository's users file must come out byte-identical.
const usersTxtBefore = sha256(readFileSync(USERS_TXT));

/** ejabberd runs `exec <extauth_program>` through /bin/sh: quote every word that needs it. */
function shellLine(argv: string[]): string {
  return argv.map((a) => (/^[\w@%+=:,./-]+$/.test(a) ? a : `'${a.replaceAll("'", `'\\''`)}'`)).join(' ');
}

interface Rig {
  ej: Ejabberd;
  /** The temp users file (copy of examples/scripts/users.txt), for the example scripts. */
  users: string;
  /** RECORD_FILE of the fixture scripts: every query received, as hex lines. */
  record: string;
  stop(): Promise<void>;
}

interface RigOptions {
  /** argv of the script Gatehouse runs; gets the rig's temp dir (for the users file). */
  script: (dir: string) => string[];
  protocol: 'generic' | 'ejabberd';
  /** Extra lines of gatehouse.toml. */
  gatehouse?: string[];
  /** ejabberd's extauth_pool_size: how many bridges ejabberd runs (default 1, as the README says). */
  ejabberdPool?: number;
  /** Environment of the bridge and the script, set through /usr/bin/env in extauth_program. */
  env?: Record<string, string>;
}

async function startRig(o: RigOptions): Promise<Rig> {
  const dir = mkdtempSync(join(tmpdir(), 'gh-ejtest-'));
  const users = join(dir, 'users.txt');
  const record = join(dir, 'queries.hex');
  copyFileSync(USERS_TXT, users);
  const config = join(dir, 'gatehouse.toml');
  writeFileSync(
    config,
    [
      `external_auth_command = ${JSON.stringify(o.script(dir))}`,
      `external_auth_protocol = "${o.protocol}"`,
      ...(o.gatehouse ?? []),
      'log_level = "warn"',
      '',
    ].join('\n'),
  );
  const env = Object.entries({ RECORD_FILE: record, ...o.env }).map(([k, v]) => `${k}=${v}`);
  // ejabberd's `exec VAR=x prog` fails: environment goes through /usr/bin/env.
  const program = shellLine([
    '/usr/bin/env',
    ...env,
    process.execPath,
    GATEHOUSE_BIN,
    'extauth',
    '--serve-protocol',
    'ejabberd',
    '--config',
    config,
  ]);
  let ej: Ejabberd;
  try {
    ej = await startEjabberd({ extauthProgram: program, poolSize: o.ejabberdPool ?? 1 });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  let stopped = false;
  return {
    ej,
    users,
    record,
    async stop() {
      if (stopped) return;
      stopped = true;
      await ej.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const RIGS = {
  // The example scripts, exactly as an operator would run them, each on its own copy of users.txt.
  generic: () =>
    startRig({ protocol: 'generic', script: (dir) => [PYTHON, example('scripts', 'auth_users.py'), join(dir, 'users.txt')] }),
  ejabberd: () =>
    startRig({
      protocol: 'ejabberd',
      script: (dir) => [PYTHON, example('scripts', 'auth_users_ejabberd.py'), join(dir, 'users.txt')],
    }),
  // A recording fixture in the generic protocol (the one a newline could split), which exits
  // without answering on password "crash".
  crash: () => startRig({ protocol: 'generic', script: () => [process.execPath, fixture('crash-query.mjs')] }),
  // Slow only for "slowpoke". ejabberd's worker handles one query at a time, so with two workers
  // a second login does not have to queue behind the slow one in ejabberd itself.
  slow: () =>
    startRig({
      protocol: 'generic',
      script: () => [process.execPath, fixture('slow-user.mjs')],
      gatehouse: ['external_auth_timeout = 1', 'external_auth_processes = 2', 'external_auth_kill_grace = 0.5'],
      ejabberdPool: 2,
    }),
  // Answers every query "no" then "yes" in one write, in ejabberd's own framing.
  lying: () =>
    startRig({ protocol: 'ejabberd', script: () => [process.execPath, fixture('lying.mjs'), '--ejabberd'] }),
} satisfies Record<string, () => Promise<Rig>>;
type RigName = keyof typeof RIGS;
const ORDER: RigName[] = ['generic', 'ejabberd', 'crash', 'slow', 'lying'];

const rigs = new Map<RigName, Promise<Rig>>();
function rig(name: RigName): Promise<Rig> {
  let p = rigs.get(name);
  if (p === undefined) {
    p = RIGS[name]();
    // A prefetched start that fails is reported by its own suite's before(); no unhandled rejection.
    p.catch(() => {});
    rigs.set(name, p);
  }
  return p;
}
/** Starts this suite's ejabberd (if not already started) and the next suite's in the background. */
async function rigFor(name: RigName): Promise<Rig> {
  const r = await rig(name);
  const next = ORDER[ORDER.indexOf(name) + 1];
  if (next !== undefined) void rig(next);
  return r;
}
after(async () => {
  for (const p of rigs.values()) await p.then((r) => r.stop(), () => {});
});

// ---------------------------------------------------------------------------------------------

// A generous bound: a refusal must be a SASL failure, never a client timeout on a busy machine.
function login(r: Rig, user: string, password: string, timeoutMs = 20_000): Promise<XmppLoginResult> {
  return xmppLoginDetailed({ port: r.ej.port, jid: `${user}@${r.ej.host}`, password, timeoutMs });
}

function explain(r: Rig, res: XmppLoginResult): string {
  return `client said "${res.line}"${res.stderr ? `\nclient stderr: ${res.stderr.slice(-2000)}` : ''}\n${r.ej.logTail(30)}`;
}

function assertAccepted(r: Rig, res: XmppLoginResult, what: string): void {
  assert.ok(res.ok, `${what}: expected a successful login; ${explain(r, res)}`);
}

/** Refused by SASL (not-authorized), as opposed to a connection or client failure. */
function assertRefused(r: Rig, res: XmppLoginResult, what: string): void {
  assert.ok(!res.ok && /^FAIL auth failed/.test(res.line), `${what}: expected a SASL failure; ${explain(r, res)}`);
}

async function ctl(r: Rig, args: string[]): Promise<CtlResult> {
  return r.ej.ctl(args, { timeoutMs: 20_000 });
}

function ctlText(res: CtlResult): string {
  return `rc ${res.code}, stdout ${JSON.stringify(res.stdout)}, stderr ${JSON.stringify(res.stderr)}`;
}

/** jid -> stored hash, from a users file as auth_users.py writes it. */
function readUsers(file: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const i = line.lastIndexOf(':');
    out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

/** The queries the fixture script received, in order. */
function recorded(r: Rig): string[] {
  if (!existsSync(r.record)) return [];
  return readFileSync(r.record, 'utf8')
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => Buffer.from(l, 'hex').toString('utf8'));
}

async function waitFor(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (cond()) return true;
    await new Promise((res) => setTimeout(res, 25));
  }
  return cond();
}

// ---------------------------------------------------------------------------------------------

test('prerequisites: ejabberd and slixmpp are installed (these tests never skip)', () => {
  assert.ok(
    ejabberdAvailable(),
    'ejabberd is not installed: apt-get install -y ejabberd (see test/interop/EJABBERD_NOTES.md)',
  );
  const py = spawnSync(PYTHON, ['-c', 'import slixmpp'], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(py.status, 0, `${PYTHON} cannot import slixmpp (apt-get install -y python3-slixmpp): ${py.stderr}`);
});

/**
 * The example script of one protocol behind the bridge, on its own copy of users.txt
 * (alice/wonderland, bob/builder): logins, and ejabberd's account commands, checked by their
 * effect on the users file and on later logins.
 */
function exampleScriptSuite(name: 'generic' | 'ejabberd', script: string): void {
  describe(`ejabberd -> gatehouse extauth -> ${script} (${name} protocol)`, () => {
    let r: Rig;
    before(async () => {
      r = await rigFor(name);
    });
    after(async () => {
      await r?.stop();
    });
    // Colons (the protocol's separator) and non-ASCII, including a ligature NFKC would rewrite.
    const PW = 'c:ol:ön€✓ﬁ';
    const NEW_PW = 'n€w:pässwörd:';

    test('right password accepted; wrong password and unknown user refused', async () => {
      const [right, right2, wrong, unknown] = await Promise.all([
        login(r, 'alice', 'wonderland'),
        login(r, 'bob', 'builder'),
        login(r, 'alice', 'builder'),
        login(r, 'mallory', 'wonderland'),
      ]);
      assertAccepted(r, right, 'alice/wonderland');
      assertAccepted(r, right2, 'bob/builder');
      assertRefused(r, wrong, "alice with bob's password");
      assertRefused(r, unknown, 'unknown user mallory');
    });

    test('check_account asks the script (isuser)', async () => {
      const known = await ctl(r, ['check_account', 'alice', 'localhost']);
      assert.equal(known.code, 0, `check_account alice: ${ctlText(known)}`);
      const unknown = await ctl(r, ['check_account', 'mallory', 'localhost']);
      assert.equal(unknown.code, 1, `check_account mallory: ${ctlText(unknown)}`);
    });

    test('register (tryregister) creates an account whose password has colons and UTF-8', async () => {
      const res = await ctl(r, ['register', 'carol', 'localhost', PW]);
      assert.equal(res.code, 0, `register carol: ${ctlText(res)}`);
      assert.match(res.stdout, /successfully registered/);
      assert.ok(readUsers(r.users).has('carol@localhost'), 'the script wrote carol into its users file');
      const [ok, prefix, nfkc, taken] = await Promise.all([
        login(r, 'carol', PW),
        login(r, 'carol', 'c'), // the password up to its first colon
        login(r, 'carol', PW.replace('ﬁ', 'fi')),
        ctl(r, ['register', 'alice', 'localhost', 'whatever']),
      ]);
      assertAccepted(r, ok, 'carol with the registered password, byte-exact');
      assertRefused(r, prefix, 'carol with the part before the first colon');
      assertRefused(r, nfkc, 'carol with an NFKC-normalized password');
      assert.equal(taken.code, 1, `register over an existing account: ${ctlText(taken)}`);
      assert.match(taken.stdout + taken.stderr, /conflict|already registered/);
    });

    test('change_password (setpass): the new password works, the old one no longer does', async () => {
      const oldHash = readUsers(r.users).get('carol@localhost');
      assert.ok(oldHash, 'carol exists (registered by the previous test)');
      const res = await ctl(r, ['change_password', 'carol', 'localhost', NEW_PW]);
      assert.equal(res.code, 0, `change_password carol: ${ctlText(res)}`);
      assert.notEqual(readUsers(r.users).get('carol@localhost'), oldHash, 'the stored hash changed');
      const [fresh, old] = await Promise.all([login(r, 'carol', NEW_PW), login(r, 'carol', PW)]);
      assertAccepted(r, fresh, 'carol with the new password');
      assertRefused(r, old, 'carol with the old password');
    });

    test('unregister (removeuser): the account is gone and its login fails', async () => {
      const res = await ctl(r, ['unregister', 'carol', 'localhost']);
      assert.equal(res.code, 0, `unregister carol: ${ctlText(res)}`);
      const left = readUsers(r.users);
      assert.ok(!left.has('carol@localhost'), 'carol removed from the users file');
      assert.deepEqual([...left.keys()].sort(), ['alice@localhost', 'bob@localhost']);
      const [gone, check] = await Promise.all([login(r, 'carol', NEW_PW), ctl(r, ['check_account', 'carol', 'localhost'])]);
      assertRefused(r, gone, 'carol after unregister');
      assert.equal(check.code, 1, `check_account carol after unregister: ${ctlText(check)}`);
    });
  });
}

exampleScriptSuite('generic', 'examples/scripts/auth_users.py');
exampleScriptSuite('ejabberd', 'examples/scripts/auth_users_ejabberd.py');

describe('ejabberd -> gatehouse extauth -> recording fixture (crash-query.mjs, generic protocol)', () => {
  let r: Rig;
  before(async () => {
    r = await rigFor('crash');
  });
  after(async () => {
    await r?.stop();
  });
  const sinceNow = (): (() => string[]) => {
    const n = recorded(r).length;
    return () => recorded(r).slice(n);
  };

  test('ejabberdctl account commands reach the script as isuser, tryregister, setpass, removeuser', async () => {
    // The fixture: isuser is "no" only for users starting with "nobody"; account commands say yes.
    const seen = sinceNow();
    const steps: [string[], number][] = [
      [['register', 'nobody-new', 'localhost', 'p:wé€'], 0],
      [['change_password', 'dave', 'localhost', 'n:wé€'], 0],
      [['unregister', 'dave', 'localhost'], 0],
      [['check_account', 'nobody-else', 'localhost'], 1],
    ];
    for (const [args, code] of steps) {
      const res = await ctl(r, args);
      assert.equal(res.code, code, `ejabberdctl ${args.join(' ')}: ${ctlText(res)}`);
    }
    assert.deepEqual(seen(), [
      'isuser:nobody-new:localhost',
      'tryregister:nobody-new:localhost:p:wé€',
      'isuser:dave:localhost',
      'setpass:dave:localhost:n:wé€',
      'removeuser:dave:localhost',
      'isuser:nobody-else:localhost',
    ]);
  });

  test('a script that crashes mid-query: that login fails, the next one succeeds', async () => {
    const seen = sinceNow();
    assertRefused(r, await login(r, 'alice', 'crash'), 'password "crash" (the script exits without answering)');
    assertAccepted(r, await login(r, 'alice', 'secret'), 'the next right login, answered by the restarted script');
    assertRefused(r, await login(r, 'alice', 'wrong'), 'and a wrong one after it');
    assert.deepEqual(seen(), ['auth:alice:localhost:crash', 'auth:alice:localhost:secret', 'auth:alice:localhost:wrong']);
  });

  test('a newline in a SASL password never reaches the generic script (no command injection)', async () => {
    const seen = sinceNow();
    // Unprotected, the script would read two queries and its second "1" would answer the next login.
    const marker = `inj${Date.now().toString(36)}`;
    const res = await login(r, 'alice', `${marker}\nauth:alice:localhost:secret`);
    assertRefused(r, res, 'password with an embedded newline');
    assertRefused(r, await login(r, 'alice', 'wrong-again'), 'the next wrong login');
    assert.deepEqual(seen(), ['auth:alice:localhost:wrong-again'], 'only the second login reached the script');
    // The bridge said why (stderr goes to ejabberd's console), without the password.
    const logs = r.ej.logTail(200);
    assert.match(logs, /password contains CR, LF or NUL/);
    assert.ok(!logs.includes(marker), 'the refused password is not logged');
  });
});

describe('ejabberd -> gatehouse extauth (timeout 1 s, 2 processes) -> a script slow for one user', () => {
  let r: Rig;
  before(async () => {
    r = await rigFor('slow');
  });
  after(async () => {
    await r?.stop();
  });

  test("the slow user is refused after the timeout, well before ejabberd's own 30 s, and others log in meanwhile", async (t) => {
    const t0 = performance.now();
    // slixmpp waits up to 25 s; ejabberd alone would wait 30 s for this script, then fail.
    const slow = login(r, 'slowpoke', 'secret', 25_000).then((res) => ({ res, ms: performance.now() - t0 }));
    // "Meanwhile": once the slow query is at the script, not before.
    const atScript = await waitFor(() => recorded(r).some((q) => q.startsWith('auth:slowpoke:')), 30_000);
    assert.ok(atScript, `the slowpoke query never reached the script\n${r.ej.logTail(30)}`);
    const others = await Promise.all([login(r, 'alice', 'secret'), login(r, 'bob', 'pw-bob')]);
    assertAccepted(r, others[0]!, 'alice while slowpoke waits');
    assertAccepted(r, others[1]!, 'bob while slowpoke waits');
    const s = await slow;
    assertRefused(r, s.res, 'slowpoke');
    // How long it took is only reported: a loaded machine may stretch it.
    t.diagnostic(`slowpoke refused after ${Math.round(s.ms)} ms`);
    // The late process was replaced: the pool still answers.
    assertAccepted(r, await login(r, 'alice', 'secret'), 'alice after the timeout');
    assertRefused(r, await login(r, 'alice', 'nope'), 'a wrong password after the timeout');
  });
});

describe('ejabberd -> gatehouse extauth -> a lying script (answers "no" then "yes" to every query)', () => {
  let r: Rig;
  before(async () => {
    r = await rigFor('lying');
  });
  after(async () => {
    await r?.stop();
  });

  test('no login gets in on a surplus "yes", however many are tried in a row', async () => {
    // One after the other: a surplus reply kept in the pipe would answer the next query.
    for (const [user, pw] of [
      ['alice', 'wrong-1'],
      ['alice', 'wrong-2'],
      ['bob', 'wrong-3'],
      ['alice', 'secret'],
    ] as const) {
      assertRefused(r, await login(r, user, pw), `${user}/${pw} with a script that replies twice`);
    }
    const seen = recorded(r);
    assert.equal(seen.length, 4, `every login asked the script (a fresh process each time): ${JSON.stringify(seen)}`);
    assert.match(r.ej.logTail(200), /ERR_EXTAUTH_BAD_REPLY/);
  });
});

test("the repository's users.txt is untouched", () => {
  assert.equal(sha256(readFileSync(USERS_TXT)), usersTxtBefore);
});
