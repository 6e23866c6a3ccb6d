import { accessSync, constants } from 'node:fs';
import { FilterParser } from 'ldapts';
import { KNOWN_TOKENS, expandTokens, unknownToken } from './tokens.js';
import { ConfigError, type ConfEntry, parseBool, readSaslauthdConf } from '../saslauthd-conf.js';

export { parseBool } from '../saslauthd-conf.js';
import { UnreachableError } from '../../../errors.js';

export type LdapScope = 'sub' | 'one' | 'base';
export type LdapDeref = 'never' | 'search' | 'find' | 'always';
export type LdapAuthMethod = 'bind' | 'fastbind' | 'custom';

/** One entry of ldap_servers. */
export type LdapServer =
  | { readonly kind: 'ldap' | 'ldaps'; readonly uri: string; readonly host: string; readonly port: number }
  | { readonly kind: 'ldapi'; readonly uri: string; readonly path: string };

/** Effective `-a ldap` settings from saslauthd.conf, validated. */
export interface LdapConfig {
  /** Where it was read from. */
  readonly file: string;
  /** ldap_servers: tried in order; the first healthy one is used (Default: ldap://localhost/). */
  readonly servers: readonly LdapServer[];
  /** ldap_bind_dn: service DN for searches; empty binds anonymously (Default: empty). */
  readonly bindDn: string;
  /** ldap_bind_pw / ldap_password (Default: empty). */
  readonly bindPw: string;
  /** ldap_version: accepted for compatibility; we always speak LDAPv3 (Default: 3). */
  readonly version: number;
  readonly searchBase: string;
  /** ldap_filter: search filter, or for fastbind the DN template (Default: (uid=%u)). */
  readonly filter: string;
  readonly scope: LdapScope;
  readonly authMethod: LdapAuthMethod;
  /** ldap_password_attr: attribute compared by `custom` (Default: userPassword). */
  readonly passwordAttr: string;
  /** ldap_default_realm / ldap_default_domain: realm when the request has none (Default: empty). */
  readonly defaultRealm: string;
  /** ldap_timeout: seconds for connect and each operation (Default: 5). */
  readonly timeoutSec: number;
  /** ldap_time_limit: server-side search limit in seconds (Default: 5). */
  readonly timeLimitSec: number;
  /** ldap_size_limit: search size limit; a user search always asks for at least 2 to see duplicates (Default: 1). */
  readonly sizeLimit: number;
  readonly deref: LdapDeref;
  /** ldap_referrals: accepted; referrals are never followed (a search that only returns referrals is refused, not "unknown user"). */
  readonly referrals: boolean;
  /** ldap_restart: accepted for compatibility; no effect. */
  readonly restart: boolean;
  readonly startTls: boolean;
  /** ldap_tls_check_peer: verify the server certificate and name (Default: yes). */
  readonly tlsCheckPeer: boolean;
  readonly tlsCacertFile: string;
  readonly tlsCacertDir: string;
  readonly tlsCert: string;
  readonly tlsKey: string;
  /** ldap_tls_ciphers: an OpenSSL cipher list (Default: Node's). */
  readonly tlsCiphers: string;
  readonly useSasl: boolean;
  readonly saslId: string;
  readonly saslAuthzId: string;
  readonly saslMech: string;
  readonly saslRealm: string;
  readonly saslSecprops: string;
  readonly groupDn: string;
  readonly groupAttr: string;
  readonly groupMatchMethod: 'attr' | 'filter';
  readonly groupFilter: string;
  /** ldap_group_search_base (Default: ldap_search_base). */
  readonly groupSearchBase: string;
  readonly groupScope: LdapScope;
  readonly debug: number;
  /** ldap_pool_size (ours): service-bound connections kept per server (Default: 8). */
  readonly poolSize: number;
}

type Kind = 'string' | 'bool' | 'int' | 'seconds' | 'scope' | 'deref' | 'method' | 'groupMethod' | 'servers' | 'filter' | 'dnTemplate' | 'file' | 'dir';

interface KeySpec {
  readonly field: keyof LdapConfig;
  readonly kind: Kind;
  /** Tokens allowed in a template value. */
  readonly tokens?: string;
}

const USER_TOKENS = KNOWN_TOKENS.replace('D', '');

/** Every key saslauthd's ldap reads, with its aliases, plus our ldap_pool_size. */
const KEYS: ReadonlyMap<string, KeySpec> = new Map<string, KeySpec>([
  ['ldap_servers', { field: 'servers', kind: 'servers' }],
  ['ldap_bind_dn', { field: 'bindDn', kind: 'string' }],
  ['ldap_bind_pw', { field: 'bindPw', kind: 'string' }],
  ['ldap_password', { field: 'bindPw', kind: 'string' }],
  ['ldap_version', { field: 'version', kind: 'int' }],
  ['ldap_search_base', { field: 'searchBase', kind: 'dnTemplate', tokens: USER_TOKENS }],
  ['ldap_filter', { field: 'filter', kind: 'filter', tokens: USER_TOKENS }],
  ['ldap_scope', { field: 'scope', kind: 'scope' }],
  ['ldap_auth_method', { field: 'authMethod', kind: 'method' }],
  ['ldap_password_attr', { field: 'passwordAttr', kind: 'string' }],
  ['ldap_default_realm', { field: 'defaultRealm', kind: 'string' }],
  ['ldap_default_domain', { field: 'defaultRealm', kind: 'string' }],
  ['ldap_timeout', { field: 'timeoutSec', kind: 'seconds' }],
  ['ldap_time_limit', { field: 'timeLimitSec', kind: 'int' }],
  ['ldap_size_limit', { field: 'sizeLimit', kind: 'int' }],
  ['ldap_deref', { field: 'deref', kind: 'deref' }],
  ['ldap_referrals', { field: 'referrals', kind: 'bool' }],
  ['ldap_restart', { field: 'restart', kind: 'bool' }],
  ['ldap_start_tls', { field: 'startTls', kind: 'bool' }],
  ['ldap_tls_check_peer', { field: 'tlsCheckPeer', kind: 'bool' }],
  ['ldap_tls_cacert_file', { field: 'tlsCacertFile', kind: 'file' }],
  ['ldap_tls_cacert_dir', { field: 'tlsCacertDir', kind: 'dir' }],
  ['ldap_tls_cert', { field: 'tlsCert', kind: 'file' }],
  ['ldap_tls_key', { field: 'tlsKey', kind: 'file' }],
  ['ldap_tls_ciphers', { field: 'tlsCiphers', kind: 'string' }],
  ['ldap_use_sasl', { field: 'useSasl', kind: 'bool' }],
  ['ldap_id', { field: 'saslId', kind: 'string' }],
  ['ldap_sasl_authc_id', { field: 'saslId', kind: 'string' }],
  ['ldap_authz_id', { field: 'saslAuthzId', kind: 'string' }],
  ['ldap_sasl_authz_id', { field: 'saslAuthzId', kind: 'string' }],
  ['ldap_mech', { field: 'saslMech', kind: 'string' }],
  ['ldap_sasl_mech', { field: 'saslMech', kind: 'string' }],
  ['ldap_realm', { field: 'saslRealm', kind: 'string' }],
  ['ldap_sasl_realm', { field: 'saslRealm', kind: 'string' }],
  ['ldap_sasl_secprops', { field: 'saslSecprops', kind: 'string' }],
  ['ldap_group_dn', { field: 'groupDn', kind: 'dnTemplate', tokens: KNOWN_TOKENS }],
  ['ldap_group_attr', { field: 'groupAttr', kind: 'string' }],
  ['ldap_group_match_method', { field: 'groupMatchMethod', kind: 'groupMethod' }],
  ['ldap_group_filter', { field: 'groupFilter', kind: 'filter', tokens: KNOWN_TOKENS }],
  ['ldap_group_search_base', { field: 'groupSearchBase', kind: 'dnTemplate', tokens: KNOWN_TOKENS }],
  ['ldap_group_scope', { field: 'groupScope', kind: 'scope' }],
  ['ldap_debug', { field: 'debug', kind: 'int' }],
  ['ldap_pool_size', { field: 'poolSize', kind: 'int' }],
]);

export const LDAP_KEYS: readonly string[] = [...KEYS.keys()];

export const LDAP_DEFAULTS: Omit<LdapConfig, 'file'> = {
  servers: [{ kind: 'ldap', uri: 'ldap://localhost/', host: 'localhost', port: 389 }],
  bindDn: '',
  bindPw: '',
  version: 3,
  searchBase: '',
  filter: '(uid=%u)',
  scope: 'sub',
  authMethod: 'bind',
  passwordAttr: 'userPassword',
  defaultRealm: '',
  timeoutSec: 5,
  timeLimitSec: 5,
  sizeLimit: 1,
  deref: 'never',
  referrals: false,
  restart: true,
  startTls: false,
  tlsCheckPeer: true,
  tlsCacertFile: '',
  tlsCacertDir: '',
  tlsCert: '',
  tlsKey: '',
  tlsCiphers: '',
  useSasl: false,
  saslId: '',
  saslAuthzId: '',
  saslMech: '',
  saslRealm: '',
  saslSecprops: '',
  groupDn: '',
  groupAttr: 'uniqueMember',
  groupMatchMethod: 'attr',
  groupFilter: '',
  groupSearchBase: '',
  groupScope: 'sub',
  debug: 0,
  poolSize: 8,
};

/** Yes/No/True/False/On/Off/1/0 in any case; anything else is an error (saslauthd guesses). */

/** Parses one ldap_servers URI (ldapi:// takes a %-encoded socket path, or Debian's default). */
export function parseServerUri(uri: string): LdapServer | string {
  const m = /^(ldaps?|ldapi):\/\/([^/]*)\/?$/i.exec(uri);
  if (!m) return 'expected ldap://host[:port]/, ldaps://host[:port]/ or ldapi://%2Fpath%2Fto%2Fsocket/';
  const kind = m[1]!.toLowerCase() as 'ldap' | 'ldaps' | 'ldapi';
  const rest = m[2]!;
  if (kind === 'ldapi') {
    let path: string;
    try {
      path = rest === '' ? '/var/run/slapd/ldapi' : decodeURIComponent(rest);
    } catch {
      return 'bad %-encoding in the ldapi socket path';
    }
    if (!path.startsWith('/')) return 'the ldapi socket path must be absolute (%2F-encoded)';
    return { kind, uri, path };
  }
  const hp = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]*)(?::(\d{1,5}))?$/.exec(rest);
  if (!hp) return 'bad host[:port]';
  const host = hp[1]! === '' ? 'localhost' : hp[1]!.replace(/^\[|\]$/g, '');
  const port = hp[2] !== undefined ? Number(hp[2]) : kind === 'ldaps' ? 636 : 389;
  if (port < 1 || port > 65535) return `port ${port} out of range`;
  return { kind, uri, host, port };
}

/** Levenshtein distance, for "did you mean". */
function editDistance(a: string, b: string): number {
  let prev = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) cur[j] = Math.min(prev[j]! + 1, cur[j - 1]! + 1, prev[j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    prev = cur;
  }
  return prev[b.length]!;
}

/** The known key nearest a misspelt one, when it is near enough to be what was meant (a third of its length). */
function closest(key: string, known: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Math.max(2, Math.floor(key.length / 3)) + 1;
  for (const k of known) {
    const d = editDistance(key.toLowerCase(), k);
    if (d < bestD) [best, bestD] = [k, d];
  }
  return best;
}

const SAMPLE = { login: 'user@example.com', realm: 'example.com', service: 'imap', userDn: 'uid=user,dc=example,dc=com' };

function oneOf<T extends string>(v: string, allowed: readonly T[]): T | null {
  const s = v.toLowerCase();
  return (allowed as readonly string[]).includes(s) ? (s as T) : null;
}

/** Turns parsed lines into a validated LdapConfig; the first problem throws a ConfigError naming file:line and key. */
export function buildLdapConfig(entries: readonly ConfEntry[], file: string): LdapConfig {
  const cfg: Record<string, unknown> = { ...LDAP_DEFAULTS, file };
  const seen = new Set<string>();
  for (const { key, value, line } of entries) {
    const spec = KEYS.get(key);
    const fail = (problem: string): never => {
      throw new ConfigError(file, line, key, problem);
    };
    if (!spec) {
      // Other backends' keys (krb5, httpform) are not ours to read; saslauthd's ldap also refuses them.
      const near = closest(key, LDAP_KEYS);
      fail(near !== null ? `unknown key; did you mean ${near}?` : `unknown key (not one of the ${LDAP_KEYS.length} ldap_* keys in docs/backends/ldap.md)`);
      return undefined as never;
    }
    seen.add(spec.field);
    let parsed: unknown;
    switch (spec.kind) {
      case 'string':
        parsed = value;
        break;
      case 'bool':
        parsed = parseBool(value) ?? fail(`${JSON.stringify(value)} is not a boolean (yes/no, true/false, on/off, 1/0)`);
        break;
      case 'int':
        if (!/^\d{1,9}$/.test(value)) fail(`${JSON.stringify(value)} is not a non-negative integer`);
        parsed = Number(value);
        break;
      case 'seconds':
        if (!/^\d{1,6}(\.\d{1,3})?$/.test(value) || Number(value) <= 0) fail(`${JSON.stringify(value)} is not a positive number of seconds`);
        parsed = Number(value);
        break;
      case 'scope':
        parsed = oneOf(value, ['sub', 'one', 'base'] as const) ?? fail(`${JSON.stringify(value)} is not one of sub, one, base`);
        break;
      case 'deref':
        parsed = oneOf(value, ['never', 'search', 'find', 'always'] as const) ?? fail(`${JSON.stringify(value)} is not one of never, search, find, always`);
        break;
      case 'method':
        parsed = oneOf(value, ['bind', 'fastbind', 'custom'] as const) ?? fail(`${JSON.stringify(value)} is not one of bind, fastbind, custom`);
        break;
      case 'groupMethod':
        parsed = oneOf(value, ['attr', 'filter'] as const) ?? fail(`${JSON.stringify(value)} is not one of attr, filter`);
        break;
      case 'servers': {
        const uris = value.split(/[ \t]+/).filter((u) => u !== '');
        parsed = uris.map((u) => {
          const s = parseServerUri(u);
          return typeof s === 'string' ? fail(`${JSON.stringify(u)}: ${s}`) : s;
        });
        break;
      }
      case 'filter':
      case 'dnTemplate': {
        const bad = unknownToken(value, spec.tokens ?? '');
        if (bad !== null) fail(`unknown or misplaced token ${bad} (allowed: ${[...(spec.tokens ?? '')].map((t) => `%${t}`).join(' ')})`);
        parsed = value;
        break;
      }
      case 'file':
      case 'dir':
        try {
          accessSync(value, constants.R_OK);
        } catch (e) {
          fail(`cannot read ${JSON.stringify(value)}: ${(e as NodeJS.ErrnoException).code ?? 'error'}`);
        }
        parsed = value;
        break;
      default: {
        const never: never = spec.kind;
        throw new UnreachableError(`unhandled key kind ${String(never)}`);
      }
    }
    cfg[spec.field] = parsed;
  }
  const c = cfg as unknown as LdapConfig & Record<string, unknown>;
  const lineOf = (...keys: string[]): number | null => {
    for (let i = entries.length - 1; i >= 0; i--) if (keys.includes(entries[i]!.key)) return entries[i]!.line;
    return null;
  };
  const fail = (problem: string, ...keys: string[]): never => {
    throw new ConfigError(file, lineOf(...keys), keys[0] ?? null, problem);
  };

  if (!seen.has('groupSearchBase')) cfg['groupSearchBase'] = c.searchBase;
  if (c.version !== 2 && c.version !== 3) fail(`${c.version} is not an LDAP version (2 or 3; LDAPv3 is always used)`, 'ldap_version');
  if (c.poolSize < 1 || c.poolSize > 1024) fail('must be between 1 and 1024', 'ldap_pool_size');
  if (c.useSasl) checkSasl(c, fail);
  // Filters are checked now, with sample values, so a typo is a start-up error and not a NO per request.
  if (c.authMethod !== 'fastbind') checkFilter(c.filter, 'ldap_filter');
  if (c.groupFilter !== '') checkFilter(c.groupFilter, 'ldap_group_filter');
  if (c.groupMatchMethod === 'filter' && c.groupFilter === '' && c.groupDn !== '') {
    fail('ldap_group_match_method filter needs ldap_group_filter', 'ldap_group_match_method');
  }
  if (c.groupMatchMethod === 'attr' && c.groupDn === '' && c.groupFilter !== '') {
    fail('ldap_group_filter is set but ldap_group_match_method is attr (set it to filter)', 'ldap_group_filter');
  }
  if ((c.tlsCert === '') !== (c.tlsKey === '')) fail('ldap_tls_cert and ldap_tls_key go together', c.tlsCert === '' ? 'ldap_tls_key' : 'ldap_tls_cert');
  return c;

  function checkFilter(template: string, key: string): void {
    try {
      FilterParser.parseString(expandTokens(template, SAMPLE, 'filter'));
    } catch (e) {
      fail(`not a valid LDAP filter: ${(e as Error).message}`, key);
    }
  }
}

/**
 * SASL mechanisms the service bind can use. Both finish in one round trip with no security layer,
 * which is all ldapts' bind can carry; DIGEST-MD5, SCRAM-* and GSSAPI need a multi-step exchange.
 */
export const SASL_MECHS = ['EXTERNAL', 'PLAIN'] as const;
export type SaslMech = (typeof SASL_MECHS)[number];

/** ldap_use_sasl: yes is checked at start-up, so a mechanism we cannot speak never reaches a request. */
function checkSasl(c: LdapConfig & Record<string, unknown>, fail: (problem: string, ...keys: string[]) => never): void {
  const supported = SASL_MECHS.join(', ');
  if (c.saslMech === '') fail(`ldap_use_sasl needs ldap_mech (supported: ${supported}); saslauthd would let libsasl pick one`, 'ldap_use_sasl');
  const mech = c.saslMech.toUpperCase();
  if (!(SASL_MECHS as readonly string[]).includes(mech)) fail(`${JSON.stringify(c.saslMech)} is not supported (supported: ${supported})`, 'ldap_mech', 'ldap_sasl_mech');
  (c as Record<string, unknown>)['saslMech'] = mech;
  // A security property asks for a layer (minssf) or forbids a mechanism (noplain); neither can be
  // honoured by EXTERNAL or PLAIN here, and ignoring it would be weaker than the admin asked for.
  if (c.saslSecprops !== '') fail('security properties are not supported (EXTERNAL and PLAIN have no security layer); remove the key', 'ldap_sasl_secprops');
  if (mech === 'PLAIN' && (c.saslId === '' || c.bindPw === '')) {
    const keys = c.saslId === '' ? ['ldap_id', 'ldap_sasl_authc_id'] : ['ldap_bind_pw', 'ldap_password'];
    fail('ldap_mech PLAIN needs ldap_id (the authentication id) and ldap_bind_pw', ...keys);
  }
  if (/\0/.test(c.saslId + c.saslAuthzId)) fail('a SASL id cannot contain a NUL', 'ldap_id');
}

/** Reads `-O PATH` (or /etc/saslauthd.conf) and validates it. */
export function loadLdapConfig(file: string): LdapConfig {
  return buildLdapConfig(readSaslauthdConf(file), file);
}
