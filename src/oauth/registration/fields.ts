/**
 * Typed readers for registration request members (RFC 7591 §2). Each throws
 * invalid_client_metadata naming the member; none echoes the value, so a description is always
 * safe to show (RFC 6749 §5.2 character set) and cannot reflect attacker-chosen text.
 */
import { invalidClientMetadata } from '../errors.js';

/** The request body as parsed JSON: only own members are read. */
export type Input = Readonly<Record<string, unknown>>;

/** An own member, or undefined when absent or JSON null (null means "not provided"). */
export function member(input: Input, name: string): unknown {
  if (!Object.hasOwn(input, name)) return undefined;
  const v = input[name];
  return v === null ? undefined : v;
}

// C0/C1 controls and the bidi embedding, override and isolate characters, which can make a
// name shown on the consent page read differently from what it is (Unicode TR #36 §2.4).
const UNSAFE_TEXT = /[\p{Cc}\u202a-\u202e\u2066-\u2069]/u;

/** A human-readable string: well-formed, no control or bidi characters, bounded. */
export function text(value: unknown, field: string, max: number): string {
  if (typeof value !== 'string') throw invalidClientMetadata(`${field} must be a string`);
  if (value.trim() === '') throw invalidClientMetadata(`${field} must not be empty`);
  if (value.length > max) throw invalidClientMetadata(`${field} must not be longer than ${max} characters`);
  if (!value.isWellFormed() || UNSAFE_TEXT.test(value)) {
    throw invalidClientMetadata(`${field} must not contain control characters`);
  }
  return value;
}

/** A string that will be parsed as a URI, bounded before any parsing happens. */
export function uriString(value: unknown, field: string, max: number, fail = invalidClientMetadata): string {
  if (typeof value !== 'string') throw fail(`${field} must be a string`);
  if (value === '') throw fail(`${field} must not be empty`);
  if (value.length > max) throw fail(`${field} must not be longer than ${max} characters`);
  return value;
}

/** An array of strings without duplicates, at most `max` long. */
export function stringArray(value: unknown, field: string, max: number, fail = invalidClientMetadata): readonly string[] {
  if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) {
    throw fail(`${field} must be an array of strings`);
  }
  if (value.length > max) throw fail(`${field} must not contain more than ${max} items`);
  if (new Set(value).size !== value.length) throw fail(`${field} must not contain duplicates`);
  return value as readonly string[];
}
