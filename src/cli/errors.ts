/** A command-line mistake: printed as a message with the usage hint, exit code 2. */
export class UsageError extends Error {
  override readonly name = 'UsageError';
  readonly code = 'ERR_USAGE' as const;
}
