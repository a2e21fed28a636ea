/**
 * One vocabulary for why an account question (Accounts.query, or a step around it such as a
 * store read) did not get a yes. Every face (auth API, Dovecot, extauth bridges, OAuth forms
 * and password grant, account page) turns a class into its own wire answer with one table
 * `Record<FailureClass, ...>`, so a new class fails to compile until every face answers it.
 *
 * The rule behind every table (DESIGN.md, engine rule 7): a question that could not be answered
 * is answered "no" or a temporary failure, never "yes"; so an error nobody here knows is
 * `temporary`.
 */
import { ExtauthError } from '../extauth/errors.js';
import { StorageError } from '../storage/errors.js';
import { AccountsError } from './errors.js';

/**
 * - `wrong`: a definite "no": the script refused the credentials, the user does not exist, or
 *   the command's change was refused. Not an error: `Accounts.query` resolving false is this
 *   class, and so is a face refusing before it asks (a host it does not serve).
 * - `invalid`: the input cannot be sent to the script safely (a line break or NUL in a field, a
 *   query too long: DESIGN.md engine rule 2). The script was not asked; asking again with the
 *   same input will never work.
 * - `throttled`: too many failed password checks (accounts.ts); the script was not asked. The
 *   same attempt may work after `retryAfterMs(err)`.
 * - `unsupported`: the command is not available: no script is configured for the host, or
 *   the configuration does not let the script be asked this command. Permanent until the
 *   configuration changes.
 * - `temporary`: the answer is unknown and asking again may work: the script timed out,
 *   crashed, sent garbage, the pool was overloaded or closing, the database could not be
 *   reached; also an account changed whose grants could not be revoked (ERR_AUTH_LIFECYCLE),
 *   and any error not listed here.
 * - `internal`: the answer is unknown and asking again will not help until an operator acts:
 *   the database is corrupt, too new, or refused a statement (a StorageError that is not
 *   `temporary`). Faces that can only say "no" or "try later" answer it as `temporary`.
 */
export type FailureClass = 'wrong' | 'invalid' | 'throttled' | 'unsupported' | 'temporary' | 'internal';

/** Every class, in the order of the list above (for tests and exhaustive checks). */
export const FAILURE_CLASSES: readonly FailureClass[] = Object.freeze(['wrong', 'invalid', 'throttled', 'unsupported', 'temporary', 'internal']);

/** The class of an error thrown by Accounts.query, the engine or a store (see FailureClass). */
export function classify(err: unknown): FailureClass {
  if (err instanceof ExtauthError) {
    // The engine says which of its errors leave the answer unknown; the two that do not are
    // a refusal of the input and a command it will not run.
    if (err.temporary) return 'temporary';
    return err.code === 'ERR_EXTAUTH_UNSUPPORTED' ? 'unsupported' : 'invalid';
  }
  if (err instanceof AccountsError) {
    switch (err.code) {
      case 'ERR_AUTH_THROTTLED':
        return 'throttled';
      case 'ERR_AUTH_NOT_CONFIGURED':
        // No script for the host: no command is available there, and retrying will not change it.
        return 'unsupported';
      case 'ERR_AUTH_LIFECYCLE':
        // The account changed but its grants still work: never answered as the success.
        return 'temporary';
    }
  }
  if (err instanceof StorageError) return err.temporary ? 'temporary' : 'internal';
  return 'temporary';
}

/** For a `throttled` error: milliseconds until the attempt may be made again (0 otherwise). */
export function retryAfterMs(err: unknown): number {
  return err instanceof AccountsError && err.code === 'ERR_AUTH_THROTTLED' ? err.retryAfterMs : 0;
}

/** The error's stable code for a log line, when it has one. */
export function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

/** The error's message for a log line or an answer that quotes it (ours never hold a password). */
export function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
