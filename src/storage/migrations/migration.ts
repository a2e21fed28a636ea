/**
 * A schema migration. Each storage backend keeps its own ordered list (SQLite's in sqlite.ts;
 * PostgreSQL's will sit beside it) using the same version numbers, so that "schema version N"
 * means the same tables and columns whatever the backend.
 */
export interface Migration {
  /** 1, 2, 3, ... with no gaps: the schema version after this migration. */
  readonly version: number;
  /** A short snake_case label, stored with the version for operators reading the table. */
  readonly name: string;
  /** The statements to run, in one transaction with the version bump. */
  readonly sql: string;
}

/** Throws a TypeError unless versions run 1, 2, 3, ... in order: a gap or a swap is a bug. */
export function checkMigrations(list: readonly Migration[]): void {
  list.forEach((m, i) => {
    if (m.version !== i + 1) {
      throw new TypeError(`migration #${i} (${m.name}) has version ${m.version}, expected ${i + 1}`);
    }
    if (!/^[a-z0-9_]+$/.test(m.name)) throw new TypeError(`migration ${m.version} has an invalid name: ${JSON.stringify(m.name)}`);
  });
}

/** The newest schema version a list knows (0 for an empty list). */
export function latestVersion(list: readonly Migration[]): number {
  return list.at(-1)?.version ?? 0;
}
