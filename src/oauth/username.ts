/**
 * The username typed on the login page, prepared as the XMPP server would before asking the
 * auth script: PRECIS UsernameCaseMapped (RFC 8265 §3.3) as RFC 7622 §3.3 uses it for
 * localparts: width mapping, case mapping to lower case, NFC, then the localpart's
 * disallowed characters (RFC 7622 §3.3.1) refused with a message.
 *
 * Width mapping maps fullwidth and halfwidth forms (U+FF00..U+FFEF) to their
 * decompositions, which NFKC does for exactly those characters.
 */
export type Prepared = { ok: true; user: string } | { ok: false; message: string };

const DISALLOWED = /["&'/:<>@\s\p{Cc}\p{Cf}\p{Co}\p{Cs}]/u;

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

/** Split "user@host" typed into the username field when host is the one being logged into. */
export function stripOwnHost(input: string, host: string): string {
  const at = input.lastIndexOf('@');
  if (at > 0 && input.slice(at + 1).toLowerCase() === host.toLowerCase()) return input.slice(0, at);
  return input;
}
