#!/usr/bin/env node
// Example auth script, generic protocol (Prosody mod_auth_external, `gatehouse extauth`), in
// Node with built-in modules only.
//
// A DEMO: the accounts are fixed below, in plain text (alice/wonderland and bob/builder at
// localhost). A real script checks a hashed password store; see auth_users.py.
//
// Reads `command:user:host[:password]` lines on stdin and answers `1` or `0` on stdout, one
// line per query. Exits on EOF.
import { timingSafeEqual } from 'node:crypto';

const PASSWORDS = new Map([
  ['alice@localhost', 'wonderland'],
  ['bob@localhost', 'builder'],
]);

/** Compares without leaking, through timing, how much of the password was right. */
function samePassword(given, known) {
  const a = Buffer.from(given, 'utf8');
  const b = Buffer.from(known, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

function answer(line) {
  // The password is everything after the third colon: it may itself contain colons.
  const c1 = line.indexOf(':');
  const c2 = line.indexOf(':', c1 + 1);
  if (c1 === -1 || c2 === -1) return false;
  const c3 = line.indexOf(':', c2 + 1);
  const command = line.slice(0, c1);
  const user = line.slice(c1 + 1, c2);
  const host = c3 === -1 ? line.slice(c2 + 1) : line.slice(c2 + 1, c3);
  const password = c3 === -1 ? undefined : line.slice(c3 + 1);
  const known = PASSWORDS.get(`${user}@${host}`);
  if (command === 'auth') return password !== undefined && password !== '' && known !== undefined && samePassword(password, known);
  if (command === 'isuser') return password === undefined && known !== undefined;
  return false; // anything else, known or not: no
}

// Split on "\n" bytes, not with readline: readline also ends lines at a lone "\r", and a
// chunk may end inside a multi-byte UTF-8 character, so decode only whole lines.
let pending = Buffer.alloc(0);
process.stdin.on('data', (chunk) => {
  pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
  let start = 0;
  for (let nl = pending.indexOf(0x0a); nl !== -1; nl = pending.indexOf(0x0a, start)) {
    const line = pending.toString('utf8', start, nl);
    start = nl + 1;
    // Writes to a pipe are synchronous in Node on Linux: each reply leaves at once, in order.
    process.stdout.write(answer(line) ? '1\n' : '0\n');
  }
  pending = pending.subarray(start);
});
// At EOF stdin ends, nothing keeps the event loop alive any more, and the process exits.
