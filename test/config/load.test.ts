import assert from 'node:assert/strict';
import { test } from 'node:test';
import { ConfigError } from '../../src/config/errors.js';
import { parseConfigText } from '../../src/config/load.js';
import { splitCommand } from '../../src/config/argv.js';

function problems(text: string, env: NodeJS.ProcessEnv = {}): readonly string[] {
  try {
    parseConfigText(text, { env, dir: '/etc/gatehouse' });
    return [];
  } catch (err) {
    assert.ok(err instanceof ConfigError);
    assert.equal(err.code, 'ERR_CONFIG_INVALID');
    return err.problems;
  }
}

test('defaults follow DESIGN.md', () => {
  const c = parseConfigText('external_auth_command = "/usr/bin/auth"', { dir: '/etc/gatehouse' });
  assert.deepEqual(c.defaults.extauth.command, ['/usr/bin/auth']);
  assert.equal(c.defaults.extauth.protocol, 'generic');
  assert.equal(c.defaults.extauth.timeoutMs, 5000);
  assert.equal(c.defaults.extauth.processes, 1);
  assert.equal(c.defaults.extauth.cacheTtlMs, 0);
  assert.equal(c.defaults.extauth.cwd, '/etc/gatehouse');
  assert.deepEqual(c.http.ports, [5280]);
  assert.deepEqual(c.http.interfaces, ['127.0.0.1']);
  assert.equal(c.dataDir, '/etc/gatehouse/data');
  assert.deepEqual(c.defaults.oauth2.registrationKeys, []);
});

test("ejabberd's names are aliases of Prosody's", () => {
  const c = parseConfigText('extauth_program = "python3 /opt/auth.py --db \'my db\'"\nextauth_pool_size = 4');
  assert.deepEqual(c.defaults.extauth.command, ['python3', '/opt/auth.py', '--db', 'my db']);
  assert.equal(c.defaults.extauth.processes, 4);
  assert.deepEqual(problems('extauth_program = "a"\nexternal_auth_command = "b"'), [
    'external_auth_command: same setting as "extauth_program"; give only one of them',
  ]);
});

test('every problem is reported at once, naming the key, with a "did you mean" for unknown keys', () => {
  const p = problems(`
external_auth_comand = "x"
external_auth_timeout = -1
external_auth_processes = 2.5
external_auth_protocol = "ejabberd2"
http_ports = [99999]
oauth2_registration_key = "short"
[hosts."example.com"]
external_auth_timout = 3
log_level = "debug"
`);
  assert.deepEqual(p, [
    'external_auth_comand: unknown key (did you mean "external_auth_command"?)',
    'external_auth_timeout: expected a number from 0.001 to 3600 (seconds), got -1',
    'external_auth_processes: expected an integer from 1 to 256, got 2.5',
    'external_auth_protocol: expected one of "generic", "ejabberd", got "ejabberd2"',
    'http_ports: expected a port or a list of ports (0-65535), got [99999]',
    'oauth2_registration_key: expected a secret string or a list of them (the first signs, all verify) of at least 16 characters, got a string of 5 characters',
    'hosts."example.com".external_auth_timout: unknown key (did you mean "external_auth_timeout"?)',
    'hosts."example.com".log_level: can only be set at the top level, not per host',
  ]);
});

test('bad TOML is reported with its position; a secret is never echoed', () => {
  const p = problems('external_auth_command = "x\nfoo = ');
  assert.equal(p.length, 1);
  assert.match(p[0]!, /^not valid TOML at line \d+, column \d+/);
  const k = problems('oauth2_registration_key = "hunter2"');
  assert.ok(!k.join().includes('hunter2'));
});

test('host tables override the global settings, like Prosody VirtualHost sections', () => {
  const c = parseConfigText(`
external_auth_command = "global-auth"
external_auth_timeout = 2
[hosts."a.example"]
external_auth_command = ["/opt/a auth", "--x"]
external_auth_protocol = "ejabberd"
[hosts."b.example"]
auth_failure_limit_user = 3
`);
  const a = c.hosts.get('a.example')!;
  assert.deepEqual(a.extauth.command, ['/opt/a auth', '--x']);
  assert.equal(a.extauth.protocol, 'ejabberd');
  assert.equal(a.extauth.timeoutMs, 2000);
  const b = c.hosts.get('b.example')!;
  assert.deepEqual(b.extauth.command, ['global-auth']);
  assert.equal(b.throttle.userLimit, 3);
  assert.equal(c.defaults.throttle.userLimit, 10);
});

test('GATEHOUSE_* environment variables override the file', () => {
  const c = parseConfigText('extauth_program = "a"\nexternal_auth_timeout = 9', {
    env: { GATEHOUSE_EXTERNAL_AUTH_TIMEOUT: '0.5', GATEHOUSE_EXTAUTH_PROGRAM: '/bin/b --flag', GATEHOUSE_CONFIG: 'x', HOME: '/root' },
  });
  assert.equal(c.defaults.extauth.timeoutMs, 500);
  assert.deepEqual(c.defaults.extauth.command, ['/bin/b', '--flag']);
  assert.deepEqual(problems('extauth_program = "a"', { GATEHOUSE_EXTERNAL_AUTH_PROCESSES: 'many' }), [
    'external_auth_processes: expected an integer from 1 to 256, got "many"',
  ]);
});

test('the result is deeply frozen', () => {
  const c = parseConfigText('extauth_program = "a"\n[hosts."h"]\nextauth_pool_size = 2');
  assert.ok(Object.isFrozen(c) && Object.isFrozen(c.defaults.extauth) && Object.isFrozen(c.defaults.extauth.command));
  assert.throws(() => (c.hosts as Map<string, unknown>).set('x', {}), TypeError);
  assert.ok(Object.isFrozen(c.hosts.get('h')));
});

test('commands split like a shell would, without one', () => {
  assert.deepEqual(splitCommand(`python3  /a\\ b.py "x \\"y\\"" 'it''s' $HOME;rm`), ['python3', '/a b.py', 'x "y"', 'its', '$HOME;rm']);
  assert.deepEqual(splitCommand(''), []);
  assert.throws(() => splitCommand('"open'), /unterminated double quote/);
  assert.throws(() => splitCommand("'open"), /unterminated single quote/);
  assert.deepEqual(problems('external_auth_command = "   "'), ['external_auth_command: the command is empty']);
});

test('oauth2_issuer: https, or http only on a loopback host (RFC 8414 §2)', () => {
  const host = (issuer: string) => `external_auth_command = "/usr/bin/auth"\noauth2_registration_key = "k-0123456789abcdef0123456789"\n[hosts."example.com"]\noauth2_issuer = "${issuer}"`;
  for (const ok of ['https://auth.example.com', 'https://example.com/oauth', 'http://127.0.0.1:5280/localhost', 'http://localhost:5280', 'http://[::1]:8080/x']) {
    assert.deepEqual(problems(host(ok)), [], ok);
  }
  for (const bad of ['http://auth.example.com', 'http://192.0.2.1/oauth', 'http://127.0.0.1.example.com']) {
    const got = problems(host(bad));
    assert.equal(got.length, 1, bad);
    assert.match(got[0]!, /oauth2_issuer: must be an https URL \(RFC 8414 §2\); http is allowed only on a loopback host/, bad);
  }
});
