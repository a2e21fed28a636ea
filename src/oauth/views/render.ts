/**
 * Page rendering with escaping by default. A template is HTML with `{{name}}` placeholders,
 * replaced by the HTML-escaped value, and `{{{name}}}` for fragments this module built
 * itself (SafeHtml). An operator themes the pages by putting files of the same names in
 * `oauth2_template_dir`; their placeholders are escaped the same way.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_TEMPLATES, type TemplateName } from './templates.js';

/** HTML that is already safe to insert raw. */
export class SafeHtml {
  constructor(readonly html: string) {}
  toString(): string {
    return this.html;
  }
}

const ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

export function escapeHtml(value: string): string {
  return value.replace(/[&<>"'`]/g, (c) => ESCAPES[c]!);
}

/** Tagged template: interpolations are escaped unless they are SafeHtml (or arrays of it). */
export function html(strings: TemplateStringsArray, ...values: unknown[]): SafeHtml {
  let out = strings[0]!;
  values.forEach((v, i) => {
    out += piece(v) + strings[i + 1]!;
  });
  return new SafeHtml(out);
}

function piece(v: unknown): string {
  if (v instanceof SafeHtml) return v.html;
  if (Array.isArray(v)) return v.map(piece).join('');
  if (v === undefined || v === null || v === false) return '';
  return escapeHtml(String(v));
}

export type TemplateValues = Record<string, string | SafeHtml | undefined>;

export class Templates {
  readonly #sources: Record<TemplateName, string>;

  /** @param dir an operator's directory of overrides, or null. Files are read once, at start. */
  constructor(dir: string | null) {
    const sources: Record<TemplateName, string> = { ...DEFAULT_TEMPLATES };
    if (dir !== null) {
      for (const name of Object.keys(DEFAULT_TEMPLATES) as TemplateName[]) {
        try {
          sources[name] = readFileSync(join(dir, name), 'utf8');
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
    this.#sources = sources;
  }

  /** The stylesheet, served as is. */
  get css(): string {
    return this.#sources['style.css'];
  }

  render(name: Exclude<TemplateName, 'style.css'>, values: TemplateValues): string {
    const body = this.#fill(this.#sources[name], values);
    return this.#fill(this.#sources['layout.html'], { ...values, body: new SafeHtml(body) });
  }

  #fill(source: string, values: TemplateValues): string {
    return source.replace(/\{\{(\{?)\s*([a-z_]+)\s*\}?\}\}/g, (_m, raw: string, key: string) => {
      const v = values[key];
      if (v === undefined) return '';
      if (raw === '{' && v instanceof SafeHtml) return v.html;
      return escapeHtml(String(v));
    });
  }
}
