/**
 * Grants follow the account (DESIGN.md, OAuth section): the AccountLifecycle hook that
 * Accounts.query calls after every command that changes an account, on any face (auth API,
 * extauth bridge, account page). Against the store, so every instance sharing it agrees:
 *  - a new password (setpass): every grant of the user is revoked with its access and refresh
 *    tokens, unused codes and approved device codes, and every browser session of the user
 *    ends (a password change is what a user does after a leak; a token used as a password,
 *    token-password.ts, dies with its grant);
 *  - an account removed (removeuser, removeuser3) or registered (tryregister): the same, and
 *    the account's generation moves on, so the name is a new subject: its `sub` differs
 *    (host.ts), and no grant, session or password check begun for the earlier account can
 *    act for it (OIDC Core §2: a sub is never reassigned).
 * When the script's answer was lost after the query was sent, the change may have happened:
 * grants and sessions are revoked, but the generation moves only on a confirmed removal or
 * registration (a needless new `sub` would make relying parties see a stranger).
 * Hosts without OAuth have nothing to revoke. A failure rejects: Accounts.query then answers
 * a temporary failure rather than a yes.
 */
import type { AccountLifecycle } from '../accounts/lifecycle.js';
import type { Logger } from '../log/logger.js';
import type { OAuthStore } from '../storage/port.js';
import { prepareUsername } from './session/username.js';

export function accountLifecycle(store: Pick<OAuthStore, 'revokeAccount'>, oauthHosts: ReadonlySet<string>, log: Logger): AccountLifecycle {
  return async (change) => {
    if (!oauthHosts.has(change.host)) return;
    // Grants and sessions are keyed on the username as the login forms prepare it.
    const prepared = prepareUsername(change.user);
    const user = prepared.ok ? prepared.user : change.user;
    const renew = change.kind !== 'password' && change.outcome === 'done';
    const { revoked, generation } = await store.revokeAccount(change.host, user, Date.now(), renew);
    log.info({ user, host: change.host, change: change.kind, outcome: change.outcome, revoked, generation }, 'account changed: its grants, tokens and sessions revoked');
  };
}
