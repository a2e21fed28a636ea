import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { escapeHtml, html, SafeHtml, Templates } from '../../src/oauth/views/render.js';

test('interpolations are escaped unless they are SafeHtml built by the code', () => {
  assert.equal(escapeHtml(`<a href="x" onclick='y'>&\``), '&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;&#96;');
  const evil = '<img src=x onerror=alert(1)>';
  assert.equal(html`<p>${evil}</p>`.html, '<p>&lt;img src=x onerror=alert(1)&gt;</p>');
  assert.equal(html`<ul>${['<a>', html`<li>${'<b>'}</li>`]}</ul>`.html, '<ul>&lt;a&gt;<li>&lt;b&gt;</li></ul>');
  const t = new Templates(null);
  const page = t.render('error.html', { title: evil, heading: evil, message: evil, site_name: evil, css_href: '/x.css' });
  assert.ok(!page.includes('<img'));
  // A raw placeholder only takes SafeHtml: a string given to {{{...}}} is still escaped.
  const login = t.render('login.html', { error_block: evil as unknown as SafeHtml, css_href: '/x.css' });
  assert.ok(!login.includes('<img'));
});

test('an operator overrides templates and the stylesheet from oauth2_template_dir; placeholders stay escaped', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gh-theme-'));
  writeFileSync(join(dir, 'error.html'), '<h1 class="brand">{{heading}}</h1><div>{{message}}</div>');
  writeFileSync(join(dir, 'style.css'), 'body { background: hotpink; }');
  const t = new Templates(dir);
  assert.equal(t.css, 'body { background: hotpink; }');
  const page = t.render('error.html', { title: 'T', heading: 'Oops <x>', message: 'm', site_name: 'S', css_href: '/c.css' });
  assert.match(page, /<h1 class="brand">Oops &lt;x&gt;<\/h1><div>m<\/div>/);
  // Files not overridden keep their defaults.
  assert.match(t.render('login.html', { css_href: '/c.css' }), /<label for="username">Username<\/label>/);
});
