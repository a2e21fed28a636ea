/**
 * Rendering of the device pages (templates in views/templates-device.ts, themable like the
 * others): code entry, sign-in (the shared login.html, posting to the device's login), consent
 * and the final page. Every value is escaped by the template engine; the only raw fragments
 * are built here with `html`.
 */
import type { FastifyReply } from 'fastify';
import type { ClientDisplay } from '../clients/identity.js';
import type { OAuthContext } from '../context.js';
import { cssHref } from './layout.js';
import { SCOPE_DESCRIPTIONS } from '../consent/scopes.js';
import { html, SafeHtml } from '../views/render.js';
import { DEVICE_PATHS } from '../device/paths.js';
import { formatUserCode } from '../device/user-code.js';

const HTML = 'text/html; charset=utf-8';

function base(ctx: OAuthContext, title: string) {
  return { title, site_name: ctx.host.siteName, css_href: cssHref(ctx) };
}

/** The user-code form (RFC 8628 §3.3). */
export function codeEntryPage(
  ctx: OAuthContext,
  reply: FastifyReply,
  v: { status?: number; csrf: string; userCode?: string; error?: string },
): FastifyReply {
  const body = ctx.templates.render('device.html', {
    ...base(ctx, 'Connect a device'),
    host: ctx.host.host,
    action: `${ctx.host.basePath}${DEVICE_PATHS.verify}`,
    csrf: v.csrf,
    user_code: v.userCode,
    error_block: v.error ? html`<p class="error" role="alert" id="user-code-error">${v.error}</p>` : new SafeHtml(''),
    code_attrs: new SafeHtml(v.error ? 'aria-invalid="true" aria-describedby="user-code-error user-code-hint"' : 'aria-describedby="user-code-hint"'),
  });
  return reply.code(v.status ?? 200).type(HTML).send(body);
}

/** The shared sign-in page, posting to the device flow's login. */
export function deviceLoginPage(
  ctx: OAuthContext,
  reply: FastifyReply,
  v: { status?: number; clientName: string; request: string; csrf: string; username?: string; error?: string },
): FastifyReply {
  const invalid = v.error ? ' aria-invalid="true" aria-describedby="login-error"' : '';
  const body = ctx.templates.render('login.html', {
    ...base(ctx, 'Sign in'),
    host: ctx.host.host,
    client_name: v.clientName,
    action: `${ctx.host.basePath}${DEVICE_PATHS.login}`,
    request: v.request,
    csrf: v.csrf,
    username: v.username,
    error_block: v.error ? html`<p class="error" role="alert" id="login-error">${v.error}</p>` : new SafeHtml(''),
    username_attrs: new SafeHtml(`${v.username ? '' : 'autofocus'}${invalid}`),
    password_attrs: new SafeHtml(`${v.username ? 'autofocus' : ''}${invalid}`),
  });
  return reply.code(v.status ?? 200).type(HTML).send(body);
}

/** Consent for a device: the client, its URI, the scopes, the account, and the code to compare (§5.4). */
export function deviceConsentPage(
  ctx: OAuthContext,
  reply: FastifyReply,
  v: { client: ClientDisplay; scope: string; user: string; userCode: string; request: string; csrf: string },
): FastifyReply {
  const scopes = v.scope.split(' ').filter(Boolean);
  const body = ctx.templates.render('device-consent.html', {
    ...base(ctx, 'Allow access?'),
    client_name: v.client.name,
    client_uri: v.client.uri,
    client_identity: v.client.identity,
    jid: ctx.host.jid(v.user),
    user_code: formatUserCode(v.userCode),
    scope_items: html`${scopes.map((s) => html`<li>${SCOPE_DESCRIPTIONS[s] ?? s} <span class="small">(<code>${s}</code>)</span></li>`)}`,
    action: `${ctx.host.basePath}${DEVICE_PATHS.consent}`,
    request: v.request,
    csrf: v.csrf,
  });
  return reply.code(200).type(HTML).send(body);
}

/** The last page: what was decided, and what to do next. */
export function deviceDonePage(ctx: OAuthContext, reply: FastifyReply, v: { approved: boolean; clientName: string; user: string | null }): FastifyReply {
  const heading = v.approved ? 'Device connected' : 'Access denied';
  const message = v.approved
    ? `${v.clientName} can now use your account${v.user === null ? '' : ` ${ctx.host.jid(v.user)}`}. You can go back to your device.`
    : `${v.clientName} was not given access to your account. You can close this page.`;
  const body = ctx.templates.render('device-done.html', { ...base(ctx, heading), heading, message });
  return reply.code(200).type(HTML).send(body);
}

/** An error page that offers to start over with another code. */
export function deviceErrorPage(ctx: OAuthContext, reply: FastifyReply, status: number, heading: string, message: string): FastifyReply {
  const body = ctx.templates.render('device-error.html', {
    ...base(ctx, heading),
    heading,
    message,
    verify_href: `${ctx.host.basePath}${DEVICE_PATHS.verify}`,
  });
  return reply.code(status).type(HTML).send(body);
}
