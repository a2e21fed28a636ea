/**
 * The parser properties (properties.ts), a few hundred cases each so the suite stays short;
 * `npm run fuzz` runs the long campaign.
 */
import { test } from 'node:test';
import { parserProperties } from './properties.js';

const RUNS = Number(process.env['GATEHOUSE_FUZZ_RUNS'] ?? 300);

for (const property of parserProperties()) {
  test(`fuzz: ${property.name}`, { timeout: 30_000 }, async () => {
    await property.run(property.name.startsWith('client_id') ? Math.ceil(RUNS / 3) : RUNS);
  });
}
