/**
 * The default page templates: server-rendered, usable without JavaScript, accessible
 * (labels bound to inputs, a visible focus ring, text contrast above WCAG AA, one h1 per
 * page, errors announced with role="alert").
 */
import { ACCOUNT_TEMPLATES } from './templates-account.js';
import { DEVICE_TEMPLATES } from './templates-device.js';

const BASE_TEMPLATES = {
  'layout.html': `<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{{title}} - {{site_name}}</title>
<link rel="stylesheet" href="{{css_href}}">
</head>
<body>
<main>
<p class="site">{{site_name}}</p>
{{{body}}}
</main>
</body>
</html>
`,
  'login.html': `<h1>Sign in</h1>
<p><strong>{{client_name}}</strong> wants to use your account on <strong>{{host}}</strong>.</p>
{{{error_block}}}
<form method="post" action="{{action}}">
<input type="hidden" name="request" value="{{request}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required {{{username_attrs}}} value="{{username}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required {{{password_attrs}}}>
<button type="submit">Sign in</button>
</form>
`,
  'consent.html': `<h1>Allow access?</h1>
<p>{{{client_identity}}} asks to access your account <strong>{{jid}}</strong>.</p>
<p>It will be able to:</p>
<ul class="scopes">{{{scope_items}}}</ul>
<form method="post" action="{{action}}">
<input type="hidden" name="request" value="{{request}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<button type="submit" name="decision" value="allow">Allow</button>
<button type="submit" name="decision" value="deny" class="secondary">Deny</button>
</form>
<p class="small">Signed in as {{jid}}.</p>
`,
  'error.html': `<h1>{{heading}}</h1>
<p role="alert">{{message}}</p>
`,
  'logout-confirm.html': `<h1>Sign out?</h1>
<p>An application asks to sign you out of <strong>{{jid}}</strong> here.</p>
<form method="post" action="{{action}}">
<input type="hidden" name="request" value="{{request}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<button type="submit" name="decision" value="signout">Sign out</button>
<button type="submit" name="decision" value="stay" class="secondary">Stay signed in</button>
</form>
`,
  'signed-out.html': `<h1>Signed out</h1>
<p role="status">You are signed out of {{host}}. You can close this page.</p>
`,
  'style.css': `:root { color-scheme: light dark; --fg: #111; --bg: #fff; --accent: #0b57d0; --muted: #444; --err: #a50e0e; }
@media (prefers-color-scheme: dark) { :root { --fg: #eee; --bg: #121212; --accent: #8ab4f8; --muted: #ccc; --err: #f28b82; } }
body { margin: 0; font: 1rem/1.5 system-ui, sans-serif; color: var(--fg); background: var(--bg); }
main { max-width: 26rem; margin: 3rem auto; padding: 0 1rem; }
.site { color: var(--muted); margin: 0; }
h1 { font-size: 1.6rem; margin: .3rem 0 1rem; }
label { display: block; margin-top: 1rem; font-weight: 600; }
input[type=text], input[type=password] { box-sizing: border-box; width: 100%; padding: .6rem; font: inherit; color: inherit; background: var(--bg); border: 1px solid var(--muted); border-radius: .3rem; }
button { margin-top: 1.2rem; margin-right: .5rem; padding: .6rem 1.2rem; font: inherit; font-weight: 600; color: #fff; background: var(--accent); border: 0; border-radius: .3rem; cursor: pointer; }
@media (prefers-color-scheme: dark) { button { color: #111; } }
button.secondary { color: var(--fg); background: transparent; border: 1px solid var(--muted); }
:focus-visible { outline: 3px solid var(--accent); outline-offset: 2px; }
.error { color: var(--err); font-weight: 600; }
.small { color: var(--muted); font-size: .9rem; }
.unverified { color: var(--err); }
a { color: var(--accent); }
`,
};

/** Every page template, by file name (the names an operator's override files take). */
export const DEFAULT_TEMPLATES = { ...BASE_TEMPLATES, ...DEVICE_TEMPLATES, ...ACCOUNT_TEMPLATES };
export type TemplateName = keyof typeof DEFAULT_TEMPLATES;
