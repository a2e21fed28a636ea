/**
 * Templates of the device authorization pages (RFC 8628 §3.3: the user enters the user code).
 * Same conventions as templates.ts: one h1, labels bound to inputs, errors with role="alert".
 * Sign-in reuses login.html.
 */
export const DEVICE_TEMPLATES = {
  'device.html': `<h1>Connect a device</h1>
<p>Enter the code shown on your device to let it use your account on <strong>{{host}}</strong>.</p>
{{{error_block}}}
<form method="post" action="{{action}}">
<input type="hidden" name="csrf" value="{{csrf}}">
<label for="user_code">Code</label>
<input id="user_code" name="user_code" type="text" autocomplete="off" autocapitalize="characters" spellcheck="false" maxlength="32" required autofocus {{{code_attrs}}} value="{{user_code}}">
<p class="small" id="user-code-hint">8 letters, like BCDF-GHJK. Upper or lower case, with or without the dash.</p>
<button type="submit">Continue</button>
</form>
`,
  'device-consent.html': `<h1>Allow access?</h1>
<p>{{{client_identity}}} asks to access your account <strong>{{jid}}</strong> from a device.</p>
<p>Check that your device shows this code:</p>
<p><strong id="user-code">{{user_code}}</strong></p>
<p>If you did not start this yourself on a device you have with you, choose Deny.</p>
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
  'device-done.html': `<h1>{{heading}}</h1>
<p role="status">{{message}}</p>
`,
  'device-error.html': `<h1>{{heading}}</h1>
<p role="alert">{{message}}</p>
<p><a href="{{verify_href}}">Enter a code</a></p>
`,
} as const;
