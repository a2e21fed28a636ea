/** Rendering of the authorization code flow's pages: sign-in and consent (RFC 6749 §4.1.1). */
import type { FastifyReply } from 'fastify';
import type { ClientDisplay } from '../clients/identity.js';
import type { OAuthContext } from '../context.js';
import { SCOPE_DESCRIPTIONS } from '../consent/scopes.js';
import { html, SafeHtml } from '../views/render.js';
import { cssHref } from './layout.js';

export function loginPage(
  ctx: OAuthContext,
  reply: FastifyReply,
  v: { status?: number; clientName: string; request: string; csrf: string; username?: string; error?: string },
): FastifyReply {
  const body = ctx.templates.render('login.html', {
    title: 'Sign in',
    site_name: ctx.host.siteName,
    css_href: cssHref(ctx),
    host: ctx.host.host,
    client_name: v.clientName,
    action: `${ctx.host.basePath}/oauth2/authorize/login`,
    request: v.request,
    csrf: v.csrf,
    username: v.username,
    error_block: v.error ? html`<p class="error" role="alert" id="login-error">${v.error}</p>` : new SafeHtml(''),
    // After a failed try the username is kept: focus goes to the password, and both fields
    // point at the error so a screen reader reads it when they get focus.
    username_attrs: new SafeHtml(`${v.username ? '' : 'autofocus'}${v.error ? ' aria-invalid="true" aria-describedby="login-error"' : ''}`),
    password_attrs: new SafeHtml(`${v.username ? 'autofocus' : ''}${v.error ? ' aria-invalid="true" aria-describedby="login-error"' : ''}`),
  });
  return reply.code(v.status ?? 200).type('text/html; charset=utf-8').send(body);
}

export function consentPage(
  ctx: OAuthContext,
  reply: FastifyReply,
  v: { client: ClientDisplay; scope: string; user: string; request: string; csrf: string },
): FastifyReply {
  const scopes = v.scope.split(' ').filter(Boolean);
  const body = ctx.templates.render('consent.html', {
    title: 'Allow access?',
    site_name: ctx.host.siteName,
    css_href: cssHref(ctx),
    client_name: v.client.name,
    client_uri: v.client.uri,
    client_identity: v.client.identity,
    jid: ctx.host.jid(v.user),
    scope_items: html`${scopes.map((s) => html`<li>${SCOPE_DESCRIPTIONS[s] ?? s} <span class="small">(<code>${s}</code>)</span></li>`)}`,
    action: `${ctx.host.basePath}/oauth2/authorize/consent`,
    request: v.request,
    csrf: v.csrf,
  });
  return reply.code(200).type('text/html; charset=utf-8').send(body);
}
