/**
 * User codes (RFC 8628 §6.1): 8 characters from an alphabet of 20 consonants: no vowels, so
 * no words are spelled by accident, and no digits, so no 0/O or 1/I confusion; about 34.5
 * bits of entropy. Shown as XXXX-XXXX;
 * compared case-insensitively with every dash and space ignored, so "bcdf ghjk" finds
 * BCDF-GHJK.
 */
import { randomInt } from 'node:crypto';

/** The RFC 8628 §6.1 example alphabet: BCDFGHJKLMNPQRSTVWXZ. */
export const USER_CODE_ALPHABET = 'BCDFGHJKLMNPQRSTVWXZ';
export const USER_CODE_LENGTH = 8;

const NORMALIZED = new RegExp(`^[${USER_CODE_ALPHABET}]{${USER_CODE_LENGTH}}$`);
/** Longest input looked at: a code with generous separators. */
const MAX_INPUT = 32;

/** A fresh user code in normalized form (upper case, no separator); uniform over the alphabet. */
export function newUserCode(): string {
  let out = '';
  for (let i = 0; i < USER_CODE_LENGTH; i++) out += USER_CODE_ALPHABET[randomInt(USER_CODE_ALPHABET.length)];
  return out;
}

/** What a user typed, normalized for lookup; null when it cannot be a user code at all. */
export function normalizeUserCode(typed: string): string | null {
  if (typed.length > MAX_INPUT) return null;
  const code = typed.replace(/[\s-]/g, '').toUpperCase();
  return NORMALIZED.test(code) ? code : null;
}

/** The form shown to people: XXXX-XXXX. */
export function formatUserCode(code: string): string {
  return `${code.slice(0, 4)}-${code.slice(4)}`;
}
