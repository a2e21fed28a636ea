/**
 * Account changes every face must follow up (DESIGN.md "Grants follow the account"): the
 * commands that change an account's password, or end or begin an account under a name.
 * Accounts.query hands each one, once the script said yes (or may have: its answer was lost
 * after the query was sent), to an AccountLifecycle hook; the OAuth side implements it
 * against the store (src/oauth/lifecycle.ts), so that every instance sees the revocation.
 */
import type { Command } from '../extauth/query.js';

/**
 * - `password`: setpass, the account's password changed;
 * - `removed`: removeuser, removeuser3, the account is gone and its name free;
 * - `registered`: tryregister, a new account under a name that was free.
 */
export type AccountChangeKind = 'password' | 'removed' | 'registered';

/** The kind of change a command makes when the script says yes; absent for read-only commands. */
export const ACCOUNT_CHANGES: Readonly<Partial<Record<Command, AccountChangeKind>>> = Object.freeze({
  __proto__: null,
  setpass: 'password',
  removeuser: 'removed',
  removeuser3: 'removed',
  tryregister: 'registered',
});

export interface AccountChange {
  readonly kind: AccountChangeKind;
  /** The user as the face sent it (the hook prepares it as logins do). */
  readonly user: string;
  readonly host: string;
  /**
   * 'done': the script said yes. 'unknown': the query reached the script but its answer was
   * lost (timeout, crash): the change may have happened.
   */
  readonly outcome: 'done' | 'unknown';
}

/**
 * Revokes what the account's change ends. Resolves once it is stored; rejects when it could
 * not be (Accounts.query then fails the command with ERR_AUTH_LIFECYCLE: never a silent yes).
 */
export type AccountLifecycle = (change: AccountChange) => Promise<void>;
