/**
 * Times on the account page, in words. The server does not know the reader's time zone, so
 * recent times are relative ("5 minutes ago", "yesterday") and only older ones are dates, in
 * UTC and said so; the exact instant goes in <time datetime> for assistive technology.
 */
import { html, type SafeHtml } from '../views/render.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;
const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' });
const date = new Intl.DateTimeFormat('en-GB', { day: 'numeric', month: 'long', year: 'numeric', timeZone: 'UTC' });

/** "just now", "5 minutes ago", "3 hours ago", "yesterday", "12 days ago", "on 5 March 2026". */
export function inWords(at: number, now: number): string {
  const past = Math.max(0, now - at);
  if (past < MINUTE) return 'just now';
  if (past < HOUR) return relative.format(-Math.floor(past / MINUTE), 'minute');
  if (past < DAY) return relative.format(-Math.floor(past / HOUR), 'hour');
  if (past < 30 * DAY) return relative.format(-Math.floor(past / DAY), 'day');
  return `on ${date.format(at)}`;
}

/** A <time> element saying `inWords`, with the exact instant (UTC) machine-readable. */
export function timeElement(at: number, now: number): SafeHtml {
  const iso = new Date(at).toISOString();
  return html`<time datetime="${iso}">${inWords(at, now)}</time>`;
}
