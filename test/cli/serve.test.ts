/** `gatehouse serve` as an operator runs it: a real process, real ports, a real script. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { childrenOf, fixtureCommand, writeConfig } from '../helpers/bridge.js';
import { killWithScripts } from '../helpers/cleanup.js';
import { DovecotClient } from '../helpers/dovecot.js';
import { isGone, waitFor } from '../helpers/engine.js';
import { fixture, GATEHOUSE_BIN } from '../helpers/paths.js';

test('serve: auth API and Dovecot protocol from one pool; SIGTERM stops it and its scripts', async () => {
  const socket = join(mkdtempSync(join(tmpdir(), 'gh-serve-')), 'auth.sock');
  const config = writeConfig(`${fixtureCommand(fixture('fast.mjs'))}
external_auth_processes = 2
http_ports = [0]
dovecot_auth_port = 0
dovecot_auth_socket = ${JSON.stringify(socket)}
log_level = "info"`);
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  try {
    assert.ok(await waitFor(() => stderr.includes('Dovecot auth protocol listening')), stderr);
    const lines = stderr.trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
    const http = (lines.find((l) => l['msg'] === 'HTTP listening')!['addresses'] as string[])[0]!;
    const dovecotPort = (lines.find((l) => l['msg'] === 'Dovecot auth protocol listening')!['ports'] as number[])[0]!;
    assert.match(http, /^http:\/\/127\.0\.0\.1:\d+$/);

    assert.deepEqual(await (await fetch(`${http}/healthz`)).json(), { status: 'ok' });
    assert.equal(await (await fetch(`${http}/auth/check_password?user=alice&server=localhost&pass=secret`)).text(), 'true');
    assert.equal(await (await fetch(`${http}/auth/check_password?user=alice&server=localhost&pass=guess`)).text(), 'false');

    for (const target of [{ port: dovecotPort }, { path: socket }]) {
      const c = await DovecotClient.open(target);
      assert.equal(await c.plain(1, 'alice', 'secret'), 'OK\t1\tuser=alice');
      c.close();
    }
    const scripts = childrenOf(child.pid!);
    assert.equal(scripts.length, 2);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    for (const pid of scripts) assert.ok(await waitFor(() => isGone(pid)), `script ${pid} left behind`);
    assert.ok(!stderr.includes('secret'), 'a password reached the log');
  } finally {
    killWithScripts(child);
  }
});

test('serve: a bad configuration is refused before anything listens', async (t) => {
  const config = writeConfig(`${fixtureCommand(fixture('fast.mjs'))}\nhttp_auth_path = "auth/"\ndovecot_auth_port = "x"`);
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  t.after(() => killWithScripts(child));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 2);
  assert.match(stderr, /http_auth_path: expected a path like "\/auth"/);
  assert.match(stderr, /dovecot_auth_port: expected an integer/);
});

/** A generic-protocol script that says yes to one password (the file is rewritten to change it). */
function passwordScript(password: string): string {
  return `import { createInterface } from 'node:readline';
createInterface({ input: process.stdin }).on('line', (line) => {
  const [command, , , ...rest] = line.split(':');
  process.stdout.write(command === 'auth' && rest.join(':') === ${JSON.stringify(password)} ? '1\\n' : '0\\n');
});
`;
}

test('serve: SIGHUP under load renews the script processes without a failed request; a bad file changes nothing', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-hup-'));
  const script = join(dir, 'auth.mjs');
  writeFileSync(script, passwordScript('one'));
  const configText = `${fixtureCommand(script)}
external_auth_processes = 2
# The load below keeps sending a password that turns wrong: no lock-out here.
auth_failure_limit_user = 0
auth_failure_limit_address = 0
http_ports = [0]
log_level = "info"`;
  const config = join(dir, 'gatehouse.toml');
  writeFileSync(config, configText);
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  // Request lines are many; keep the others for failure messages.
  const logCount = (msg: string): number => stderr.split('\n').filter((l) => l.includes(`"msg":"${msg}"`)).length;
  try {
    assert.ok(await waitFor(() => stderr.includes('HTTP listening')), stderr.slice(-2000));
    const line = stderr.split('\n').find((l) => l.includes('"HTTP listening"'))!;
    const http = (JSON.parse(line) as { addresses: string[] }).addresses[0]!;
    const check = async (pass: string): Promise<string> => {
      const res = await fetch(`${http}/auth/check_password?user=alice&server=localhost&pass=${pass}`);
      return `${res.status} ${await res.text()}`;
    };
    assert.equal(await check('one'), '200 true');
    const oldScripts = childrenOf(child.pid!);
    assert.equal(oldScripts.length, 2);

    // Four callers keep asking (bounded: 2,000 requests or 20 s) while the script changes and
    // the service reloads; every answer must be a 200 with true or false.
    let stop = false;
    const statuses = new Map<string, number>();
    const deadline = Date.now() + 20_000;
    let sent = 0;
    const load = Promise.all(
      Array.from({ length: 4 }, async () => {
        while (!stop && sent < 2000 && Date.now() < deadline) {
          sent++;
          const status = (await check('one')).split(' ')[0]!;
          statuses.set(status, (statuses.get(status) ?? 0) + 1);
        }
      }),
    );
    writeFileSync(script, passwordScript('two'));
    child.kill('SIGHUP');
    assert.ok(await waitFor(() => logCount('configuration reloaded: auth script processes renewed') === 1), stderr.slice(-2000));
    stop = true;
    await load;
    assert.deepEqual([...statuses.keys()], ['200'], `answers during the reload: ${JSON.stringify([...statuses])}`);
    assert.equal(await check('two'), '200 true');
    assert.equal(await check('one'), '200 false');
    for (const pid of oldScripts) assert.ok(await waitFor(() => isGone(pid)), `old script ${pid} left behind`);
    assert.equal(childrenOf(child.pid!).length, 2);

    // A file with a problem: logged with the problem, the running configuration stays.
    writeFileSync(config, `${configText}\nexternal_auth_timeout = "soon"`);
    child.kill('SIGHUP');
    assert.ok(await waitFor(() => logCount('configuration not reloaded: the file has problems; the running configuration stays') === 1), stderr.slice(-2000));
    assert.match(stderr, /external_auth_timeout/);
    assert.equal(await check('two'), '200 true');

    // A setting read only at start: applied on restart, and said so.
    writeFileSync(config, configText.replace('log_level = "info"', 'log_level = "warn"'));
    child.kill('SIGHUP');
    assert.ok(await waitFor(() => stderr.includes('"msg":"changed settings that take effect only after a restart"')), stderr.slice(-2000));
    assert.match(stderr, /"settings":\["log_level"\]/);

    const metrics = await (await fetch(`${http}/metrics`)).text();
    assert.match(metrics, /gatehouse_config_reloads_total\{result="applied"\} 2/);
    assert.match(metrics, /gatehouse_config_reloads_total\{result="invalid"\} 1/);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
  } finally {
    killWithScripts(child);
  }
});

test('serve: at log level "warn" it still says in one stderr line where it listens and what it serves', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-serve-start-'));
  const config = writeConfig(`${fixtureCommand(fixture('fast.mjs'))}
http_ports = [0]
data_dir = ${JSON.stringify(join(dir, 'data'))}
oauth2_registration_key = "start-line-registration-key-0123456789"
log_level = "warn"
[hosts."localhost"]
oauth2_issuer = "http://127.0.0.1:5280/localhost"`);
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  t.after(() => child.kill('SIGKILL'));
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  assert.ok(await waitFor(() => stderr.includes('\n'), 30_000), 'nothing on stderr');
  const lines = stderr.trim().split('\n');
  assert.equal(lines.length, 1, stderr);
  // stderr is a pipe here and carries the JSON log: the line is a JSON log line too.
  const line = JSON.parse(lines[0]!) as { msg: string };
  const m = /^gatehouse serve: HTTP on (http:\/\/127\.0\.0\.1:\d+) \(auth API at \/auth; OAuth issuer http:\/\/127\.0\.0\.1:5280\/localhost\); SQLite in (.+); config (.+)$/.exec(line.msg);
  assert.ok(m, line.msg);
  assert.equal(m[2], join(dir, 'data'));
  assert.equal(m[3], config);
  // The address it names is the one that answers.
  assert.equal(await (await fetch(`${m[1]}/auth/check_password?user=alice&server=localhost&pass=secret`)).text(), 'true');
  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  assert.equal(stderr.trim().split('\n').length, 1, `more than the start line at level warn: ${stderr}`);
});
