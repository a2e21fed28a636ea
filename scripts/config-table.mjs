#!/usr/bin/env node
// Writes the README's configuration table from the key table (src/config/keys.ts), compiled
// by `npm run build`. test/config/reference.test.ts fails when the README differs from it.
import { readFileSync, writeFileSync } from 'node:fs';
import { withConfigurationTable } from '../dist/src/config/reference.js';

const readme = new URL('../README.md', import.meta.url);
const before = readFileSync(readme, 'utf8');
const after = withConfigurationTable(before);
if (after === before) {
  console.log('README.md: the configuration table is up to date');
} else {
  writeFileSync(readme, after);
  console.log('README.md: configuration table written');
}
