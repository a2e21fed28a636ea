/**
 * `gatehouse serve` as a real process (issue 13 items 6 and 8): the first /readyz after a
 * SIGHUP reload answers ready (the new processes settled before they were swapped in), and no
 * log line carries a key twice.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import { fixtureCommand, writeConfig } from '../helpers/bridge.js';
import { waitFor } from '../helpers/engine.js';
import { fixture, GATEHOUSE_BIN } from '../helpers/paths.js';

/** The keys of a JSON object text at its top level, in order, repeats kept. */
function topLevelKeys(line: string): string[] {
  const keys: string[] = [];
  // JSON.parse keeps the last of two equal keys, so scan the text: strings skipped, nesting counted.
  let depth = 0;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (c === '"') {
      let j = i + 1;
      while (line[j] !== '"') j += line[j] === '\\' ? 2 : 1;
      const text = line.slice(i, j + 1);
      if (depth === 1 && /^\s*:/.test(line.slice(j + 1))) keys.push(JSON.parse(text) as string);
      i = j;
    } else if (c === '{' || c === '[') depth++;
    else if (c === '}' || c === ']') depth--;
  }
  return keys;
}

test('serve: the first /readyz after a SIGHUP reload is ready, and log lines name each key once', async (t) => {
  const config = writeConfig(`${fixtureCommand(fixture('fast.mjs'))}\nexternal_auth_processes = 2\nhttp_ports = [0]\nlog_level = "info"`);
  const child = spawn(process.execPath, [GATEHOUSE_BIN, 'serve', '--config', config], { stdio: ['ignore', 'ignore', 'pipe'] });
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  t.after(async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    await exited;
  });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const lines = () => stderr.trim().split('\n').filter(Boolean);
  const entries = () => lines().map((l) => JSON.parse(l) as Record<string, unknown>);
  assert.ok(await waitFor(() => stderr.includes('HTTP listening')), stderr);
  const base = (entries().find((l) => l['msg'] === 'HTTP listening')!['addresses'] as string[])[0]!;

  // Ready once before the reload (the pool's first start takes its settle time).
  let before = 0;
  for (const deadline = Date.now() + 30_000; before !== 200 && Date.now() < deadline; ) {
    before = (await fetch(`${base}/readyz`)).status;
    if (before !== 200) await new Promise((r) => setTimeout(r, 100));
  }
  assert.equal(before, 200);

  child.kill('SIGHUP');
  assert.ok(await waitFor(() => stderr.includes('configuration reloaded')), stderr);
  const after = await fetch(`${base}/readyz`);
  assert.deepEqual([after.status, await after.json()], [200, { status: 'ready' }]);
  assert.equal(await (await fetch(`${base}/auth/user_exists?user=alice&server=localhost`)).text(), 'true');

  child.kill('SIGTERM');
  assert.equal(await exited, 0);
  for (const line of lines()) {
    const keys = topLevelKeys(line);
    assert.deepEqual(keys, [...new Set(keys)], `a key repeated in ${line}`);
  }
  const request = entries().find((e) => e['msg'] === 'request');
  assert.equal(request?.['face'], 'http');
  assert.equal(entries().find((e) => e['msg'] === 'HTTP listening')?.['command'], 'serve');
});
