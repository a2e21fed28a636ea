/**
 * The username typed on the login page, prepared as the XMPP server would before asking the
 * auth script (identity/username.ts, shared with every face's throttling, cache and logs).
 */
export { prepareUsername, type Prepared } from '../../identity/username.js';

/** Split "user@host" typed into the username field when host is the one being logged into. */
export function stripOwnHost(input: string, host: string): string {
  const at = input.lastIndexOf('@');
  if (at > 0 && input.slice(at + 1).toLowerCase() === host.toLowerCase()) return input.slice(0, at);
  return input;
}
