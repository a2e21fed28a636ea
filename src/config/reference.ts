/**
 * The README's configuration table, rendered from the key table (keys.ts), so that the two
 * cannot drift: `npm run docs` writes it into the README between its markers, and a test
 * fails when the README holds anything else.
 */
import { KEYS, type KeyDef } from './keys.js';

export const TABLE_START = '<!-- configuration table: written by `npm run docs` from src/config/keys.ts -->';
export const TABLE_END = '<!-- end of configuration table -->';

function shownDefault(key: KeyDef): string {
  if (key.shown !== undefined) return key.shown;
  if (key.default === null) return 'none';
  return `\`${JSON.stringify(key.default)}\``;
}

/** A table cell: one line, and a `|` of the text kept out of the table's syntax. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/** The Markdown table, a row per key in the key table's order. */
export function configurationTable(keys: readonly KeyDef[] = KEYS): string {
  const rows = keys.map((k) => {
    const aliases = (k.aliases ?? []).map((a) => `\`${a}\``).join(', ');
    const where = k.scope === 'host' ? 'global, host' : 'global';
    return `| \`${k.name}\` | ${aliases} | ${where} | ${cell(shownDefault(k))} | ${cell(k.doc)} |`;
  });
  return ['| key | alias | where | default | meaning |', '|---|---|---|---|---|', ...rows].join('\n');
}

/**
 * The README with its table replaced by the rendering; throws when the markers are missing,
 * so that a README that lost them is noticed rather than left stale.
 */
export function withConfigurationTable(readme: string, keys: readonly KeyDef[] = KEYS): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start === -1 || end === -1 || end < start) throw new Error(`the README has no configuration table markers (${TABLE_START} ... ${TABLE_END})`);
  return `${readme.slice(0, start + TABLE_START.length)}\n${configurationTable(keys)}\n${readme.slice(end)}`;
}
