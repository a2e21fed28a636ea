/**
 * Rendering of the account pages: the account itself (applications with access, password
 * change, sign-out), its sign-in form, and its messages. Every value is escaped (views/render.ts);
 * errors are announced (role="alert") and the fields they concern point at them and take the
 * focus; confirmations are role="status".
 */
import type { FastifyReply } from 'fastify';
import type { Grant } from '../../storage/port.js';
import type { OAuthContext } from '../context.js';
import { cssHref } from './layout.js';
import { SCOPE_DESCRIPTIONS } from '../consent/scopes.js';
import { html, SafeHtml } from '../views/render.js';
import { timeElement } from './when.js';

/** The path of the account page, or of one of its form actions. */
export function accountPath(ctx: OAuthContext, action?: 'login' | 'revoke' | 'password' | 'signout'): string {
  return `${ctx.host.basePath}/account${action === undefined ? '' : `/${action}`}`;
}

const EMPTY = new SafeHtml('');

function send(reply: FastifyReply, status: number, body: string): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}

function noticeBlock(notice: string | undefined): SafeHtml {
  return notice === undefined ? EMPTY : html`<p role="status" id="account-notice"><strong>${notice}</strong></p>`;
}

/** Attributes of an input: autofocus, and aria-invalid/aria-describedby when `errorId` concerns it. */
function inputAttrs(opts: { focus: boolean; errorId?: string | undefined; describedBy?: string }): SafeHtml {
  const described = [opts.errorId, opts.describedBy].filter((x): x is string => x !== undefined);
  const parts: string[] = [];
  if (opts.focus) parts.push('autofocus');
  if (opts.errorId !== undefined) parts.push('aria-invalid="true"');
  if (described.length > 0) parts.push(`aria-describedby="${described.join(' ')}"`);
  return new SafeHtml(parts.join(' '));
}

/** The link to a client's site, when it is an http(s) URL (registration only accepts https). */
function clientLink(uri: string): SafeHtml {
  return /^https?:\/\//i.test(uri) ? html`<a href="${uri}" rel="noopener noreferrer">${uri}</a>` : html`${uri}`;
}

function grantItem(ctx: OAuthContext, g: Grant, index: number, csrf: string, now: number): SafeHtml {
  const scopes = g.scope.split(' ').filter(Boolean);
  const abilities = scopes.length === 0 ? html`<li>Nothing beyond knowing that you allowed it</li>` : scopes.map((s) => html`<li>${SCOPE_DESCRIPTIONS[s] ?? s}</li>`);
  const id = `grant-${index}`;
  return html`<li class="grant">
<h3 id="${id}">${g.clientName}</h3>
<p>${clientLink(g.clientUri)}</p>
<p>It can:</p>
<ul class="scopes">${abilities}</ul>
<p class="small">Allowed ${timeElement(g.createdAt, now)}; last used ${timeElement(g.lastUsedAt, now)}.</p>
<form method="post" action="${accountPath(ctx, 'revoke')}">
<input type="hidden" name="csrf" value="${csrf}">
<input type="hidden" name="grant" value="${g.id}">
<button type="submit" class="secondary" aria-label="Revoke access for ${g.clientName}">Revoke access</button>
</form>
</li>
`;
}

export type PasswordField = 'current' | 'new' | 'confirm';

export interface AccountView {
  readonly status?: number;
  readonly user: string;
  readonly grants: readonly Grant[];
  readonly csrf: string;
  readonly notice?: string | undefined;
  /** A refused password change: the message, and the field to correct (null: none in particular). */
  readonly passwordError?: { readonly message: string; readonly field: PasswordField | null } | undefined;
}

export function accountPage(ctx: OAuthContext, reply: FastifyReply, v: AccountView): FastifyReply {
  const now = Date.now();
  const grants =
    v.grants.length === 0
      ? html`<p>No application can use your account.</p>`
      : html`<ul class="grants" aria-labelledby="apps-heading">
${v.grants.map((g, i) => grantItem(ctx, g, i + 1, v.csrf, now))}</ul>`;
  const err = v.passwordError;
  const errorId = err === undefined ? undefined : 'password-error';
  const on = (f: PasswordField) => (err !== undefined && err.field === f ? errorId : undefined);
  const body = ctx.templates.render('account.html', {
    title: 'Your account',
    site_name: ctx.host.siteName,
    css_href: cssHref(ctx),
    jid: ctx.host.jid(v.user),
    notice_block: noticeBlock(v.notice),
    grants_block: grants,
    csrf: v.csrf,
    signout_action: accountPath(ctx, 'signout'),
    password_action: accountPath(ctx, 'password'),
    password_error_block: err === undefined ? EMPTY : html`<p class="error" role="alert" id="password-error">${err.message}</p>`,
    current_attrs: inputAttrs({ focus: err?.field === 'current', errorId: on('current') }),
    new_attrs: inputAttrs({ focus: err?.field === 'new', errorId: on('new'), describedBy: 'password-help' }),
    confirm_attrs: inputAttrs({ focus: err?.field === 'confirm', errorId: on('confirm') }),
  });
  return send(reply, v.status ?? 200, body);
}

export interface LoginView {
  readonly status?: number;
  readonly csrf: string;
  readonly username?: string;
  readonly notice?: string | undefined;
  readonly error?: string;
}

export function accountLoginPage(ctx: OAuthContext, reply: FastifyReply, v: LoginView): FastifyReply {
  const errorId = v.error === undefined ? undefined : 'login-error';
  // After a failed try the username is kept: the focus goes to the password.
  const kept = v.username !== undefined && v.username !== '';
  const body = ctx.templates.render('account-login.html', {
    title: 'Sign in',
    site_name: ctx.host.siteName,
    css_href: cssHref(ctx),
    host: ctx.host.host,
    notice_block: noticeBlock(v.notice),
    error_block: v.error === undefined ? EMPTY : html`<p class="error" role="alert" id="login-error">${v.error}</p>`,
    action: accountPath(ctx, 'login'),
    csrf: v.csrf,
    username: v.username,
    username_attrs: inputAttrs({ focus: !kept, errorId }),
    password_attrs: inputAttrs({ focus: kept, errorId }),
  });
  return send(reply, v.status ?? 200, body);
}

/** A page with one message (an expired form, an unknown grant) and a way back. */
export function accountMessage(ctx: OAuthContext, reply: FastifyReply, status: number, heading: string, message: string): FastifyReply {
  const body = ctx.templates.render('account-message.html', {
    title: heading,
    site_name: ctx.host.siteName,
    css_href: cssHref(ctx),
    heading,
    message,
    account_href: accountPath(ctx),
  });
  return send(reply, status, body);
}
