/** Cookies of the browser pages: reading the Cookie header, and the attributes every cookie of ours gets. */
import type { OAuthHost } from '../host.js';

/** The cookies of a request; a name sent twice keeps its first value. */
export function parseCookies(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = Object.create(null);
  if (header === undefined) return out;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq === -1) continue;
    const name = part.slice(0, eq).trim();
    if (!(name in out)) out[name] = part.slice(eq + 1).trim();
  }
  return out;
}

export function cookie(host: OAuthHost, name: string, value: string, maxAgeS: number, sameSite: 'Lax' | 'Strict'): string {
  const parts = [`${name}=${value}`, `Path=${host.basePath || '/'}`, 'HttpOnly', `SameSite=${sameSite}`, `Max-Age=${maxAgeS}`];
  if (host.secure) parts.push('Secure');
  return parts.join('; ');
}
