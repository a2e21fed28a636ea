/**
 * Templates of the account page (GET {issuer}/account): the applications holding grants,
 * revocation, password change, sign-out, and the page's own sign-in form. Like the other
 * pages: no JavaScript, labels bound to inputs, one h1, errors with role="alert" (and the
 * fields pointing at them), confirmations with role="status", only the stylesheet's classes
 * (the CSP forbids inline styles). Fragments in `{{{...}}}` are built by src/oauth/pages/account.ts
 * with escaping; an operator may override any of these files from `oauth2_template_dir`.
 */
export const ACCOUNT_TEMPLATES = {
  'account.html': `<h1>Your account</h1>
<p>Signed in as <strong>{{jid}}</strong>.</p>
{{{notice_block}}}
<form method="post" action="{{signout_action}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<button type="submit" class="secondary">Sign out</button>
</form>
<h2 id="apps-heading">Applications with access</h2>
{{{grants_block}}}
<h2 id="password-heading">Change password</h2>
<p class="small" id="password-help">Changing your password signs every application out of your account, those listed above included: sign in to them again with the new password.</p>
{{{password_error_block}}}
<form method="post" action="{{password_action}}" aria-labelledby="password-heading">
<input type="hidden" name="csrf" value="{{csrf}}">
<input type="text" autocomplete="username" value="{{jid}}" readonly hidden>
<label for="current-password">Current password</label>
<input id="current-password" name="current_password" type="password" autocomplete="current-password" required {{{current_attrs}}}>
<label for="new-password">New password</label>
<input id="new-password" name="new_password" type="password" autocomplete="new-password" required {{{new_attrs}}}>
<label for="confirm-password">New password again</label>
<input id="confirm-password" name="confirm_password" type="password" autocomplete="new-password" required {{{confirm_attrs}}}>
<button type="submit">Change password</button>
</form>
`,
  'account-login.html': `<h1>Sign in to your account</h1>
<p>Sign in to see which applications can use your account on <strong>{{host}}</strong>, to take their access away, or to change your password.</p>
{{{notice_block}}}
{{{error_block}}}
<form method="post" action="{{action}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="username">Username</label>
<input id="username" name="username" type="text" autocomplete="username" autocapitalize="none" spellcheck="false" required {{{username_attrs}}} value="{{username}}">
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required {{{password_attrs}}}>
<button type="submit">Sign in</button>
</form>
`,
  'account-message.html': `<h1>{{heading}}</h1>
<p role="alert">{{message}}</p>
<p><a href="{{account_href}}">Back to your account</a></p>
`,
} as const;
