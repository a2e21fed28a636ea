/**
 * Dovecot's "tab-escaping" of parameter values: \001 is the escape character, followed by
 * `0` (NUL), `1` (\001), `t` (TAB), `r` (CR), `n` or `l` (LF); any other character after
 * \001 stands for itself. (doc.dovecot.org, "Dovecot Authentication Protocol").
 */
const ESC = '\x01';

export function tabEscape(value: string): string {
  if (!/[\0\x01\t\r\n]/.test(value)) return value;
  let out = '';
  for (const c of value) {
    switch (c) {
      case '\0':
        out += `${ESC}0`;
        break;
      case ESC:
        out += `${ESC}1`;
        break;
      case '\t':
        out += `${ESC}t`;
        break;
      case '\r':
        out += `${ESC}r`;
        break;
      case '\n':
        out += `${ESC}n`;
        break;
      default:
        out += c;
    }
  }
  return out;
}

export function tabUnescape(value: string): string {
  if (!value.includes(ESC)) return value;
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    if (c !== ESC || i + 1 >= value.length) {
      out += c;
      continue;
    }
    const n = value[++i]!;
    out += n === '0' ? '\0' : n === '1' ? ESC : n === 't' ? '\t' : n === 'r' ? '\r' : n === 'n' || n === 'l' ? '\n' : n;
  }
  return out;
}
