/**
 * One identity per user (DESIGN.md rule 11): a username prepared as XMPP servers prepare a
 * localpart before asking the auth script, PRECIS UsernameCaseMapped (RFC 8265 §3.3) as
 * RFC 7622 §3.3 uses it: width mapping, case mapping to lower case, NFC, then the localpart's
 * disallowed characters (RFC 7622 §3.3.1) refused with a message.
 *
 * Width mapping maps fullwidth and halfwidth forms (U+FF00..U+FFEF) to their
 * decompositions, which NFKC does for exactly those characters.
 */
export type Prepared = { ok: true; user: string } | { ok: false; message: string };

const DISALLOWED = /["&'/:<>@\s\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u;

/** The login page's preparation: the prepared name, or a message for the user. */
export function prepareUsername(input: string): Prepared {
  let s = input.trim();
  s = s.replace(/[\uff00-\uffef]/g, (c) => c.normalize('NFKC'));
  s = s.toLowerCase().normalize('NFC');
  if (s.length === 0) return { ok: false, message: 'Enter your username.' };
  if (!s.isWellFormed()) return { ok: false, message: 'That username is not valid text.' };
  if (DISALLOWED.test(s)) {
    return { ok: false, message: 'A username cannot contain spaces, control characters or any of " & \' / : < > @' };
  }
  if (Buffer.byteLength(s) > 1023) return { ok: false, message: 'That username is too long.' };
  return { ok: true, user: s };
}

/**
 * The identity a name stands for, for throttling, caching and logs: the prepared name, or,
 * when the name cannot be prepared (a script may accept names an XMPP server would not), the
 * name case-folded and in NFC, so that spellings differing only in case still count as one.
 * `Dave`, `DAVE` and `dAve` are one identity; the script is still asked about what was sent.
 */
export function identityOf(user: string): string {
  const p = prepareUsername(user);
  return p.ok ? p.user : user.toLowerCase().normalize('NFC');
}

/** `user@host` on the identity (hosts are case-insensitive DNS names). */
export function identityKey(user: string, host: string): string {
  return `${identityOf(user)}@${host.toLowerCase()}`;
}
