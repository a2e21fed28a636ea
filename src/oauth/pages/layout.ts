/** What every page shares: the stylesheet, and the error page. */
import type { FastifyReply } from 'fastify';
import type { OAuthContext } from '../context.js';

export function cssHref(ctx: OAuthContext): string {
  return `${ctx.host.basePath}/oauth2/style.css`;
}

/** An error page: for errors that must not be redirected (unknown client, bad redirect_uri). */
export function errorPage(ctx: OAuthContext, reply: FastifyReply, status: number, heading: string, message: string): FastifyReply {
  const body = ctx.templates.render('error.html', { title: heading, heading, message, site_name: ctx.host.siteName, css_href: cssHref(ctx) });
  return reply.code(status).type('text/html; charset=utf-8').send(body);
}
