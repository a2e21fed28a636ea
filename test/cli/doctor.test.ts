/** `gatehouse doctor` run as an operator would, on good and broken setups. */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { test } from 'node:test';
import { writeConfig } from '../helpers/bridge.js';
import { example, fixture, GATEHOUSE_BIN } from '../helpers/paths.js';

function doctor(config: string, ...extra: string[]): Promise<{ code: number | null; out: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [GATEHOUSE_BIN, 'doctor', '--config', config, ...extra], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    child.once('close', (code) => resolve({ code, out }));
  });
}

test('doctor passes a good configuration with a well-behaved script', async () => {
  const config = writeConfig(`external_auth_command = ["python3", ${JSON.stringify(example('scripts', 'auth_users.py'))}]\nhttp_ports = [0]`);
  const r = await doctor(config);
  assert.equal(r.code, 0, r.out);
  assert.match(r.out, /ok {4}auth script .*auth_users\.py: passes check-script/);
  assert.match(r.out, /All checks passed/);
});

test('doctor reports a broken configuration, a lying script and a taken port', async (t) => {
  const bad = writeConfig('external_auth_comand = "x"\nexternal_auth_timeout = 0');
  const r1 = await doctor(bad);
  assert.equal(r1.code, 1);
  assert.match(r1.out, /did you mean "external_auth_command"/);

  const busy = createServer();
  await new Promise<void>((r) => busy.listen(0, '127.0.0.1', () => r()));
  t.after(() => busy.close());
  const port = (busy.address() as { port: number }).port;
  const config = writeConfig(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('lying.mjs'))}]\nhttp_ports = [${port}]`);
  const r2 = await doctor(config);
  assert.equal(r2.code, 1, r2.out);
  assert.match(r2.out, /FAIL {2}auth script .*lying\.mjs: \d+ problem\(s\)/);
  assert.match(r2.out, /extra-reply/);
  assert.match(r2.out, new RegExp(`FAIL  listen 127\\.0\\.0\\.1:${port}: in use`));
  assert.match(r2.out, /check\(s\) failed/);
});

test('doctor flags an http issuer on a host that is not loopback', async () => {
  const config = writeConfig(`external_auth_command = [${JSON.stringify(process.execPath)}, ${JSON.stringify(fixture('fast.mjs'))}]\nhttp_ports = [0]\noauth2_registration_key = "k-0123456789abcdef0123456789"\n[hosts."example.com"]\noauth2_issuer = "http://auth.example.com"`);
  const r = await doctor(config, '--skip-script');
  assert.equal(r.code, 1, r.out);
  assert.match(r.out, /oauth2_issuer: must be an https URL \(RFC 8414 §2\)/);
});
