/**
 * Showing a script's bytes in a report: short, printable, and without the passwords the
 * checker sent (DESIGN.md rule 8 holds for reports too: the operator's real password must not
 * end up in a CI log because the script echoed it).
 */
import type { ProtocolName } from '../extauth/wire/protocol.js';

const MAX_CHARS = 60;
const MAX_HEX_BYTES = 16;

/** Text bytes as a quoted string with control characters escaped, cut at MAX_CHARS. */
export function quoteText(bytes: Buffer, secrets: Iterable<string>): string {
  let text = redact(bytes.toString('utf8'), secrets);
  const cut = text.length > MAX_CHARS;
  if (cut) text = text.slice(0, MAX_CHARS);
  const escaped = text.replace(/[\x00-\x1f\x7f-\x9f"\\]/g, (c) => {
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    if (c === '"' || c === '\\') return `\\${c}`;
    return `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`;
  });
  return `"${escaped}"${cut ? '...' : ''}`;
}

/** Bytes as hex pairs ("00 02 00 01"), cut at MAX_HEX_BYTES. */
export function hex(bytes: Buffer): string {
  const shown = [...bytes.subarray(0, MAX_HEX_BYTES)].map((b) => b.toString(16).padStart(2, '0')).join(' ');
  return bytes.length > MAX_HEX_BYTES ? `${shown} ... (${bytes.length} bytes)` : shown;
}

/** How a reply is shown: text for the line protocol, hex for ejabberd's binary frames. */
export function showReply(bytes: Buffer, protocol: ProtocolName, secrets: Iterable<string>): string {
  if (protocol === 'ejabberd') {
    // Hex cannot be redacted piecemeal; show text instead when it holds a password.
    const text = bytes.toString('utf8');
    for (const s of secrets) if (s.length > 0 && text.includes(s)) return quoteText(bytes, secrets);
    return hex(bytes);
  }
  return quoteText(bytes, secrets);
}

/** True when any of the secrets occurs in the bytes. */
export function containsSecret(bytes: Buffer, secrets: Iterable<string>): boolean {
  const text = bytes.toString('utf8');
  for (const s of secrets) if (s.length >= 4 && text.includes(s)) return true;
  return false;
}

function redact(text: string, secrets: Iterable<string>): string {
  let out = text;
  for (const s of secrets) if (s.length > 0) out = out.split(s).join('[password]');
  return out;
}
