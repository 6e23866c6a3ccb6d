import { isIP } from 'node:net';

/**
 * Characters LDAP's string preparation (RFC 4518 §2.2) maps to nothing: controls, format
 * characters (soft hyphen, zero-width joiners, bidi marks), variation selectors, U+FFFC.
 */
const IGNORED = /[\p{Cc}\p{Cf}\u034F\u180B-\u180D\uFE00-\uFE0F\uFFFC]/gu;

/**
 * The per-user penalty key for a login. Every spelling a backend may take for the same account must
 * give the same key, or each spelling is a fresh counter: OpenLDAP's caseIgnoreMatch ignores case,
 * leading/trailing space and runs of inner space (after NFKC), Dovecot lower-cases with %Lu, and an
 * LDAP filter on `%U` drops everything from the `@`. So: NFKC, drop ignorable characters, one space
 * for any run of white space, trim, cut at the first `@` (login domain and `-r` realm alike), fold
 * case. Folding too much only makes two accounts share a counter; folding too little lets a guesser
 * escape it.
 */
export function userKey(login: string): string {
  if (PRINTABLE_ASCII.test(login)) return asciiUserKey(login);
  let s = login.normalize('NFKC').replace(IGNORED, '').replace(/\p{White_Space}+/gu, ' ');
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  // toUpperCase first: a full case fold for ß, ﬁ and the like (SS, FI), then lower.
  return s.trim().toUpperCase().toLowerCase().normalize('NFKC');
}

const PRINTABLE_ASCII = /^[\x20-\x7e]*$/;

/**
 * userKey for printable ASCII, which nearly every login is: NFKC leaves it as it is, nothing in it
 * is ignorable, its only white space is U+0020 and its case fold is toLowerCase. Same result, without
 * two normalisations and two Unicode-class passes on every request (issue 15).
 */
function asciiUserKey(login: string): string {
  let s = login.replace(/ {2,}/g, ' ');
  const at = s.indexOf('@');
  if (at >= 0) s = s.slice(0, at);
  return s.trim().toLowerCase();
}

/** An IPv6 address as its eight 16-bit groups, or null when it is not one. */
function ipv6Groups(addr: string): number[] | null {
  if (isIP(addr) !== 6) return null;
  let text = addr;
  const tail: number[] = [];
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (v4) {
    const b = v4[1]!.split('.').map(Number);
    tail.push((b[0]! << 8) | b[1]!, (b[2]! << 8) | b[3]!);
    text = text.slice(0, -v4[1]!.length);
    if (text.endsWith(':') && !text.endsWith('::')) text = text.slice(0, -1);
  }
  const [head = '', rest] = text.split('::');
  const parse = (part: string): number[] => (part === '' ? [] : part.split(':').map((h) => parseInt(h, 16)));
  const left = parse(head);
  const right = [...parse(rest ?? ''), ...tail];
  const zeros = rest === undefined ? 0 : 8 - left.length - right.length;
  const groups = [...left, ...Array<number>(zeros).fill(0), ...right];
  return groups.length === 8 ? groups : null;
}

/** What the penalty knows about a client address: its counter key and its IP (for --trusted-addr). */
export interface AddressKey {
  readonly key: string;
  /** The address as an IP Node's BlockList can check, or null when the field is not an IP. */
  readonly ip: string | null;
  readonly family: 'ipv4' | 'ipv6' | null;
}

/**
 * The per-address key for the host part of a 5th field. IPv4-mapped IPv6 counts as the IPv4
 * address and any other IPv6 address as its /64 (what one ISP customer gets), so rewriting
 * an address does not give a fresh counter. A field that is not an IP keeps its (case-folded) text.
 */
export function addressKey(host: string): AddressKey {
  const bare = host.replace(/^\[(.*)\]$/, '$1').replace(/%.*$/, '');
  if (isIP(bare) === 4) return { key: bare, ip: bare, family: 'ipv4' };
  const g = ipv6Groups(bare);
  if (g === null) return { key: host.toLowerCase(), ip: null, family: null };
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) {
    const v4 = [g[6]! >> 8, g[6]! & 255, g[7]! >> 8, g[7]! & 255].join('.');
    return { key: v4, ip: v4, family: 'ipv4' };
  }
  const hex = g.map((x) => x.toString(16));
  return { key: `${hex.slice(0, 4).join(':')}::/64`, ip: hex.join(':'), family: 'ipv6' };
}
