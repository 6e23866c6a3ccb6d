/**
 * saslauthd's `%` tokens for ldap_filter, ldap_search_base, ldap_group_dn, ldap_group_filter and
 * ldap_group_search_base. Every substituted value is escaped for where it lands: RFC 4515 filter
 * escaping in filters, RFC 4514 escaping in DNs (saslauthd uses filter escaping in DNs too, which
 * lets `,` and `+` through: a DN injection in fastbind).
 */

import { splitLogin } from '../../login-parts.js';

export type TokenContext = {
  /** The full login (after -r). */
  readonly login: string;
  /** The request realm, or ldap_default_realm when that is empty. */
  readonly realm: string;
  readonly service: string;
  /** The user's DN; only group lookups have one (%D). */
  readonly userDn?: string;
};

export type EscapeMode = 'filter' | 'dn';

export const KNOWN_TOKENS = 'uUdDrRs%123456789';

/** RFC 4515: `*`, `(`, `)`, `\` and NUL become `\2a` `\28` `\29` `\5c` `\00`. */
export function escapeFilterValue(value: string): string {
  return value.replace(/[*()\\\0]/g, (c) => `\\${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * RFC 4514 attribute value escaping: `, + " \ < > ;` and `=` get a backslash, a leading space or `#`
 * and a trailing space are escaped, NUL and control characters become `\xx`.
 */
export function escapeDnValue(value: string): string {
  let out = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i]!;
    const code = c.charCodeAt(0);
    if (code < 0x20 || code === 0x7f) out += `\\${code.toString(16).padStart(2, '0')}`;
    else if (',+"\\<>;='.includes(c)) out += `\\${c}`;
    else if ((i === 0 && (c === ' ' || c === '#')) || (i === value.length - 1 && c === ' ')) out += `\\${c}`;
    else out += c;
  }
  return out;
}

/** Values of every token for one request (unescaped). */
function tokenValue(t: string, ctx: TokenContext): string {
  const { local, domain } = splitLogin(ctx.login);
  switch (t) {
    case 'u':
      return ctx.login;
    case 'U':
      return local;
    case 'd':
      // saslauthd's docs promise a realm fallback its code never had; we keep the documented one.
      return domain ?? ctx.realm;
    case 'r':
      return ctx.realm;
    case 'R':
      return ctx.realm === '' ? '' : `@${ctx.realm}`;
    case 's':
      return ctx.service;
    case 'D':
      return ctx.userDn ?? '';
    default: {
      const n = Number(t);
      const labels = (domain ?? ctx.realm).split('.').filter((l) => l !== '');
      return labels[labels.length - n] ?? '';
    }
  }
}

/**
 * Expands a template. `%D` is a DN and goes into a filter filter-escaped but into a DN as is (it is
 * already a valid DN). Unknown tokens were rejected when the config was read.
 */
export function expandTokens(template: string, ctx: TokenContext, mode: EscapeMode): string {
  let out = '';
  for (let i = 0; i < template.length; i++) {
    const c = template[i]!;
    if (c !== '%' || i === template.length - 1) {
      out += c;
      continue;
    }
    const t = template[++i]!;
    if (t === '%') {
      out += '%';
      continue;
    }
    const v = tokenValue(t, ctx);
    if (mode === 'filter') out += escapeFilterValue(v);
    else if (t === 'D') out += v;
    else out += escapeDnValue(v);
  }
  return out;
}

/** The first token in `template` that is not one of `allowed`, or null. */
export function unknownToken(template: string, allowed: string): string | null {
  for (let i = 0; i < template.length; i++) {
    if (template[i] !== '%') continue;
    const t = template[i + 1];
    if (t === undefined) return '%';
    if (!allowed.includes(t)) return `%${t}`;
    i++;
  }
  return null;
}

/** Does the template use a token drawn from the request (so its result depends on the user)? */
export function usesUserTokens(template: string): boolean {
  return /%[uUdrR1-9]/.test(template.replace(/%%/g, ''));
}
