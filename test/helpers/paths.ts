/**
 * Paths for tests. Tests are compiled to dist/test/..., so everything is located from the
 * repository root rather than from the compiled file.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';

/** The repository root (with a trailing slash). */
export const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

/** A file under test/fixtures/. */
export function fixture(...parts: string[]): string {
  return join(ROOT, 'test', 'fixtures', ...parts);
}

/** A file under examples/. */
export function example(...parts: string[]): string {
  return join(ROOT, 'examples', ...parts);
}

/** The built CLI entry point. */
export const GATEHOUSE_BIN = join(ROOT, 'bin', 'gatehouse.js');
