/**
 * Scopes (DESIGN.md "XMPP scopes"): `xmpp` (full client access), XEP-0493's
 * `xmpp:client:normal`, `xmpp:account:read`, `xmpp:account:write`, and `openid`, `profile`,
 * `offline_access`; and for mail, `imap` (reading mail, e.g. through Dovecot's oauth2 passdb) and
 * `smtp` (sending it). A scope string is space-separated (RFC 6749 §3.3).
 */
export const SCOPES = ['xmpp', 'xmpp:client:normal', 'xmpp:account:read', 'xmpp:account:write', 'imap', 'smtp', 'openid', 'profile', 'offline_access'] as const;

const KNOWN = new Set<string>(SCOPES);

/** What the consent page tells the user each scope allows. */
export const SCOPE_DESCRIPTIONS: Readonly<Record<string, string>> = Object.freeze({
  __proto__: null,
  xmpp: 'Use your chat account fully: read and send messages, manage contacts',
  'xmpp:client:normal': 'Connect as a normal chat client',
  'xmpp:account:read': 'See your account details',
  'xmpp:account:write': 'Change your account details',
  imap: 'Read your mail: open, search, move and delete messages in your mailbox (IMAP)',
  smtp: 'Send mail in your name (SMTP)',
  openid: 'Know your chat address and when you signed in',
  profile: 'See your name and profile',
  offline_access: 'Stay signed in when you are not using it',
} as unknown as Record<string, string>);

/** Split a scope parameter; null when it has a scope we do not know (invalid_scope). */
export function parseScope(value: string | undefined): string[] | null {
  if (value === undefined || value.trim() === '') return [];
  const list = [...new Set(value.split(' ').filter((s) => s.length > 0))];
  return list.every((s) => KNOWN.has(s)) ? list : null;
}

/**
 * Keep the requested scopes the client registered (all of them when it registered none), less
 * `offline_access` when the client did not register the refresh_token grant: it could never
 * get the refresh token that scope stands for, so it is neither granted nor promised on the
 * consent page.
 */
export function limitToClient(requested: string[], client: { readonly scope?: string | undefined; readonly grant_types: readonly string[] }): string[] {
  const allowed = client.scope === undefined ? null : new Set(client.scope.split(' '));
  const refreshable = client.grant_types.includes('refresh_token');
  return requested.filter((s) => (allowed === null || allowed.has(s)) && (refreshable || s !== 'offline_access'));
}
