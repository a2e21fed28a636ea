/** A configuration that cannot be used. Lists every problem at once, each naming its key. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  readonly code = 'ERR_CONFIG_INVALID' as const;
  readonly problems: readonly string[];

  constructor(source: string, problems: readonly string[]) {
    super(`invalid configuration (${source}):\n${problems.map((p) => `  - ${p}`).join('\n')}`);
    this.problems = problems;
  }
}
