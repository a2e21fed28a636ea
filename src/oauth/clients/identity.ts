/**
 * What the pages may say about who a client is. Registration is open, so client_name and
 * client_uri are whatever the registrant typed (RFC 7591 §5: the server should not present
 * them as verified); only where the code goes can back them:
 * - a web client's redirect URI is https on the client_uri host (registration enforces it):
 *   the code reaches that site, so its name and URI are shown as given;
 * - a native client's private-use scheme proves them when the scheme is the client_uri host
 *   reversed (RFC 8252 §7.1: a scheme "based on a domain name under their control"), e.g.
 *   `im.conversations:/cb` for https://conversations.im; any other scheme, and a loopback URI
 *   (RFC 8252 §7.3, any app on the machine can listen there), proves nothing;
 * - a device client (RFC 8628) has no redirect at all: nothing proves them (§5.4 phishing);
 * - a client registered without a client_uri (it is optional) has no address to prove.
 * Unproven, the name is shown with "(unverified)" and the URI as plain text, not a link,
 * also in templates an operator wrote (the label is part of client_name).
 */
import { html, type SafeHtml } from '../views/render.js';
import type { ClientMetadata } from '../registration/metadata.js';

export interface ClientDisplay {
  /** The name to show: client_name, with " (unverified)" when nothing proves it. */
  readonly name: string;
  /** client_uri, or '' when the client registered none. */
  readonly uri: string;
  readonly proven: boolean;
  /** The name and URI as the consent pages show them. */
  readonly identity: SafeHtml;
}

/** True when `redirectUri` (the one this authorization uses; null: a device) proves the client's name and URI. */
export function identityProven(client: Pick<ClientMetadata, 'client_uri'>, redirectUri: string | null): boolean {
  if (redirectUri === null || client.client_uri === undefined) return false;
  let redirect: URL;
  let home: URL;
  try {
    redirect = new URL(redirectUri);
    home = new URL(client.client_uri);
  } catch {
    return false;
  }
  if (redirect.protocol === 'https:') return redirect.hostname === home.hostname;
  if (redirect.protocol === 'http:') return false;
  const scheme = redirect.protocol.slice(0, -1).toLowerCase();
  return scheme === home.hostname.split('.').reverse().join('.');
}

export function clientDisplay(client: Pick<ClientMetadata, 'client_name' | 'client_uri'>, redirectUri: string | null): ClientDisplay {
  const proven = identityProven(client, redirectUri);
  const uri = client.client_uri ?? '';
  if (proven) {
    return { name: client.client_name, uri, proven, identity: html`<strong>${client.client_name}</strong> (<a href="${uri}" rel="noopener noreferrer">${uri}</a>)` };
  }
  const name = `${client.client_name} (unverified)`;
  if (uri === '') {
    return {
      name,
      uri,
      proven,
      identity: html`<strong>${client.client_name}</strong> <span class="unverified">(unverified: this name was given by whoever registered the application, and nothing proves it belongs to it)</span>`,
    };
  }
  return {
    name,
    uri,
    proven,
    identity: html`<strong>${client.client_name}</strong> <span class="unverified">(unverified: this name and the address ${uri} were given by whoever registered the application, and nothing proves they belong to it)</span>`,
  };
}
