/** `gatehouse serve` as an operator runs it: a real process, real ports, a real script. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { childrenOf, fixtureCommand, writeConfig } from '../helpers/bridge.js';
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
    assert.ok(await waitFor(() => stderr.includes('Dovecot auth protocol listening'), 10_000), stderr);
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
    child.kill('SIGKILL');
  }
});

test('serve: a bad configuration is refused before anything listens', async () => {
  const config = writeConfig(`${fixtureCommand(fixture('fast.mjs'))}\nhttp_auth_path = "auth/"\ndovecot_auth_port = "x"`);
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const code = await new Promise<number | null>((r) => child.once('exit', (c) => r(c)));
  assert.equal(code, 2);
  assert.match(stderr, /http_auth_path: expected a path like "\/auth"/);
  assert.match(stderr, /dovecot_auth_port: expected an integer/);
});
