/** The README's configuration table is the key table's rendering, key for key. */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { test } from 'node:test';
import { KEYS } from '../../src/config/keys.js';
import { configurationTable, withConfigurationTable } from '../../src/config/reference.js';
import { ROOT } from '../helpers/paths.js';

const readme = (): string => readFileSync(join(ROOT, 'README.md'), 'utf8');

test('the README holds the configuration table rendered from src/config/keys.ts (run `npm run docs` after changing a key)', () => {
  const text = readme();
  assert.equal(withConfigurationTable(text), text);
});

test('the table has one row per key, with its aliases, scope and default', () => {
  const rows = configurationTable().split('\n').slice(2);
  assert.equal(rows.length, KEYS.length);
  for (const key of KEYS) {
    const row = rows.find((r) => r.startsWith(`| \`${key.name}\` |`));
    assert.ok(row, `no row for ${key.name}`);
    for (const alias of key.aliases ?? []) assert.ok(row.includes(`\`${alias}\``), `${key.name}: alias ${alias} missing`);
  }
  assert.match(rows.find((r) => r.startsWith('| `external_auth_timeout` |'))!, /\| global, host \| `5` \|/);
  assert.match(rows.find((r) => r.startsWith('| `http_ports` |'))!, /\| global \| `\[5280\]` \|/);
});

test('a changed key makes the README differ, and a README without the markers is refused', () => {
  const text = readme();
  const changed = KEYS.map((k) => (k.name === 'external_auth_timeout' ? { ...k, doc: 'Something else.' } : k));
  assert.notEqual(withConfigurationTable(text, changed), text);
  assert.throws(() => withConfigurationTable('# no table here\n'), /no configuration table markers/);
});
