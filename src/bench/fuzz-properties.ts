/**
 * Property-based fuzz targets for everything that parses untrusted bytes or files: the request and
 * reply codec, request validation, the passwd/shadow readers and the saslauthd.conf/LDAP config reader. The normal test suite runs each
 * property a few hundred times (test/bench/fuzz-properties.test.ts); `npm run fuzz` runs them for
 * as long as asked. Each property states what "right" means with an independent model, so a wrong
 * parse fails, not only a crash. Add new readers to FUZZ_TARGETS.
 */
import fc from 'fast-check';
import { parsePasswd, parseShadow } from '../auth/backends/shadow/shadow-parser.js';
import { LDAP_KEYS, buildLdapConfig } from '../auth/backends/ldap/config.js';
import { ConfigError, parseSaslauthdConf } from '../auth/backends/saslauthd-conf.js';
import {
  type DecodeResult,
  MAX_FIELD_BYTES,
  MAX_REPLY_BYTES,
  type RawRequest,
  ReplyDecoder,
  RequestDecoder,
  encodeReply,
  encodeRequest,
  validateRequest,
} from '../protocol/index.js';

export interface FuzzTarget {
  readonly name: string;
  readonly property: fc.IRawProperty<unknown[]>;
}

// ---------------------------------------------------------------------------------------------------
// Generators

/** A field that saslauthd would accept: 0..256 bytes, biased towards the edges. */
const field = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 16 }),
  fc.uint8Array({ minLength: MAX_FIELD_BYTES - 2, maxLength: MAX_FIELD_BYTES }),
  fc.uint8Array({ minLength: 0, maxLength: MAX_FIELD_BYTES }),
);

/** Bytes that look like a request often enough to reach every branch of the decoder. */
const requestish = fc.oneof(
  fc.uint8Array({ minLength: 0, maxLength: 64 }),
  fc.array(field, { minLength: 0, maxLength: 6 }).map((fs) => new Uint8Array(encodeRequest(fs))),
  // valid framing, then random damage: a byte flipped, bytes cut off, junk appended
  fc
    .tuple(fc.array(field, { minLength: 3, maxLength: 5 }), fc.nat(), fc.integer({ min: 0, max: 255 }), fc.uint8Array({ maxLength: 8 }), fc.nat())
    .map(([fs, at, byte, tail, cut]) => {
      const b = Buffer.concat([encodeRequest(fs), tail]);
      if (b.length > 0) b[at % b.length] = byte;
      return new Uint8Array(b.subarray(0, b.length - (cut % Math.max(1, Math.min(4, b.length)))));
    }),
  // a length prefix over the limit in any of the first five positions
  fc
    .tuple(fc.array(field, { minLength: 0, maxLength: 4 }), fc.integer({ min: MAX_FIELD_BYTES + 1, max: 0xffff }), fc.uint8Array({ maxLength: 32 }))
    .map(([fs, len, rest]) => {
      const p = Buffer.alloc(2);
      p.writeUInt16BE(len, 0);
      return new Uint8Array(Buffer.concat([encodeRequest(fs), p, rest]));
    }),
);

/** Cut points for splitting `len` bytes into chunks (including empty chunks). */
const cuts = fc.array(fc.nat(), { maxLength: 12 });

function split(bytes: Uint8Array, points: readonly number[]): Uint8Array[] {
  const at = points.map((p) => (bytes.length === 0 ? 0 : p % (bytes.length + 1))).sort((a, b) => a - b);
  const out: Uint8Array[] = [];
  let prev = 0;
  for (const p of at) {
    out.push(bytes.subarray(prev, p));
    prev = p;
  }
  out.push(bytes.subarray(prev));
  return out;
}

// ---------------------------------------------------------------------------------------------------
// Independent model of the request framing, written from the reference (§1) and not from the decoder

type Model =
  | { kind: 'need-more' }
  | { kind: 'too-long'; index: number; length: number }
  | { kind: 'request'; fields: Buffer[]; clientAddr: Buffer | null; realmEnd: number };

/** What the decoder must report once all of `b` has arrived and no more bytes are coming. */
function model(b: Buffer): Model {
  let off = 0;
  const fields: Buffer[] = [];
  for (let i = 0; i < 4; i++) {
    if (b.length - off < 2) return { kind: 'need-more' };
    const len = b.readUInt16BE(off);
    if (len > MAX_FIELD_BYTES) return { kind: 'too-long', index: i, length: len };
    if (b.length - off - 2 < len) return { kind: 'need-more' };
    fields.push(b.subarray(off + 2, off + 2 + len));
    off += 2 + len;
  }
  if (b.length - off >= 2) {
    const len = b.readUInt16BE(off);
    if (len <= MAX_FIELD_BYTES && b.length - off - 2 >= len) {
      return { kind: 'request', fields, clientAddr: b.subarray(off + 2, off + 2 + len), realmEnd: off };
    }
  }
  return { kind: 'request', fields, clientAddr: null, realmEnd: off };
}

/**
 * The one place where chunking may change the answer, by design (reference §1.3): when the bytes
 * received so far end exactly after the realm, the request is answered as v4 at once, because a v4
 * client never sends more and must not be kept waiting. A fifth field in a later chunk is then
 * ignored, never misread.
 */
function modelForChunks(b: Buffer, chunks: readonly Uint8Array[]): Model {
  const m = model(b);
  if (m.kind !== 'request' || m.clientAddr === null) return m;
  let seen = 0;
  for (const c of chunks) {
    seen += c.length;
    if (seen === m.realmEnd) return { ...m, clientAddr: null };
  }
  return m;
}

/** Feeds chunks as the connection does: push each, then settle at EOF if still undecided. */
function decode(chunks: readonly Uint8Array[]): DecodeResult {
  const d = new RequestDecoder();
  let r: DecodeResult = { kind: 'need-more' };
  for (const c of chunks) {
    r = d.push(c);
    if (r.kind === 'request' || r.kind === 'too-long') break;
  }
  if (r.kind === 'need-more' || r.kind === 'maybe-fifth') r = d.settle();
  return r;
}

function fieldsOf(r: RawRequest): Buffer[] {
  return [r.login, r.password, r.service, r.realm];
}

function fail(message: string): never {
  throw new Error(message);
}

function sameAsModel(r: DecodeResult, m: Model, bytes: Buffer): void {
  if (r.kind !== m.kind) fail(`decoder said ${r.kind}, model ${m.kind}`);
  if (r.kind === 'too-long' && m.kind === 'too-long') {
    if (r.length !== m.length) fail(`too-long length ${r.length} vs ${m.length}`);
  }
  if (r.kind === 'request' && m.kind === 'request') {
    const got = fieldsOf(r.request);
    got.forEach((f, i) => {
      if (!f.equals(m.fields[i]!)) fail(`field ${i} differs`);
    });
    const a = r.request.clientAddr;
    if ((a === null) !== (m.clientAddr === null) || (a !== null && !a.equals(m.clientAddr!))) fail('client address differs');
    // No request is invented: the exact framing of what was decoded is a prefix of what was sent.
    const framed = encodeRequest(a === null ? got : [...got, a]);
    if (!bytes.subarray(0, framed.length).equals(framed)) fail('decoded request is not a prefix of the input');
  }
}

// ---------------------------------------------------------------------------------------------------
// Targets

const decoderMatchesModel = fc.property(requestish, cuts, (u8, points) => {
  const bytes = Buffer.from(u8);
  const whole = decode([bytes]);
  sameAsModel(whole, model(bytes), bytes);
  const chunks = split(bytes, points);
  sameAsModel(decode(chunks), modelForChunks(bytes, chunks), bytes);
});

const decoderRoundTrip = fc.property(
  fc.array(field, { minLength: 4, maxLength: 5 }),
  cuts,
  (fs, points) => {
    const bytes = encodeRequest(fs);
    const chunks = split(bytes, points);
    const r = decode(chunks);
    const m = modelForChunks(bytes, chunks);
    if (r.kind !== 'request') fail(`valid request decoded as ${r.kind}`);
    const got = fieldsOf(r.request);
    fs.slice(0, 4).forEach((f, i) => {
      if (!Buffer.from(f).equals(got[i]!)) fail(`field ${i} changed`);
    });
    const addr = r.request.clientAddr;
    const fifth = m.kind === 'request' && m.clientAddr !== null;
    if (fifth ? addr === null || !addr.equals(Buffer.from(fs[4]!)) : addr !== null) fail('fifth field wrong');
  },
);

const decoderRandomBytes = fc.property(fc.uint8Array({ maxLength: 2048 }), cuts, (u8, points) => {
  const bytes = Buffer.from(u8);
  const chunks = split(bytes, points);
  sameAsModel(decode(chunks), modelForChunks(bytes, chunks), bytes);
});

/** What a client must conclude from the daemon's bytes, by the spec. */
function replyModel(b: Buffer): { kind: 'need-more' } | { kind: 'bad-length'; length: number } | { kind: 'reply'; text: string } {
  if (b.length < 2) return { kind: 'need-more' };
  const len = b.readUInt16BE(0);
  if (len < 2) return { kind: 'bad-length', length: len };
  if (b.length < 2 + len) return { kind: 'need-more' };
  return { kind: 'reply', text: b.subarray(2, 2 + len).toString('latin1') };
}

const replyDecoder = fc.property(
  fc.oneof(
    fc.uint8Array({ maxLength: 64 }),
    fc.string({ unit: 'binary-ascii', minLength: 0, maxLength: 80 }).map((t) => {
      const body = Buffer.from(t.replace(/[\0\r\n]/g, ''), 'latin1');
      const p = Buffer.alloc(2);
      p.writeUInt16BE(body.length, 0);
      return new Uint8Array(Buffer.concat([p, body]));
    }),
  ),
  cuts,
  (u8, points) => {
    const bytes = Buffer.from(u8);
    const d = new ReplyDecoder();
    let r: ReturnType<ReplyDecoder['push']> = { kind: 'need-more' };
    for (const c of split(bytes, points)) {
      r = d.push(c);
      if (r.kind !== 'need-more') break;
    }
    const m = replyModel(bytes);
    if (r.kind !== m.kind) fail(`reply decoder said ${r.kind}, model ${m.kind}`);
    if (r.kind === 'reply' && m.kind === 'reply' && r.text !== m.text) fail('reply text differs');
    if (r.kind === 'bad-length' && m.kind === 'bad-length' && r.length !== m.length) fail('bad length differs');
  },
);

const replyRoundTrip = fc.property(fc.string({ unit: 'binary-ascii', minLength: 2, maxLength: MAX_REPLY_BYTES }), cuts, (t, points) => {
  const text = t.replace(/[\0\r\n]/g, 'x');
  const bytes = encodeReply(text);
  const d = new ReplyDecoder();
  let r: ReturnType<ReplyDecoder['push']> = { kind: 'need-more' };
  for (const c of split(bytes, points)) r = d.push(c);
  if (r.kind !== 'reply' || r.text !== text) fail('reply did not round-trip');
});

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
function isUtf8(b: Buffer): boolean {
  try {
    strictUtf8.decode(b);
    return true;
  } catch {
    return false;
  }
}

const validation = fc.property(
  fc.array(
    fc.oneof(
      fc.uint8Array({ maxLength: 12 }),
      fc.string({ unit: 'binary', maxLength: 12 }).map((s) => new Uint8Array(Buffer.from(s, 'utf8'))),
    ),
    { minLength: 5, maxLength: 5 },
  ),
  fc.boolean(),
  (fs, v5) => {
    const b = fs.map((f) => Buffer.from(f));
    const raw: RawRequest = { login: b[0]!, password: b[1]!, service: b[2]!, realm: b[3]!, clientAddr: v5 ? b[4]! : null };
    const v = validateRequest(raw);
    const texts = [raw.login, raw.service, raw.realm, ...(raw.clientAddr ? [raw.clientAddr] : [])];
    const shouldFail =
      raw.login.length === 0 || raw.password.length === 0 || raw.password.includes(0) ||
      texts.some((t) => t.includes(0) || !isUtf8(t));
    if (v.ok === shouldFail) fail(`validation ${v.ok ? 'accepted' : 'refused'} ${JSON.stringify(b.map((x) => x.toString('hex')))}`);
    if (v.ok) {
      // No wrong parse: the text we hand on is exactly the bytes that were sent.
      const r = v.request;
      if (!Buffer.from(r.login, 'utf8').equals(raw.login)) fail('login changed');
      if (!Buffer.from(r.service, 'utf8').equals(raw.service)) fail('service changed');
      if (!Buffer.from(r.realm, 'utf8').equals(raw.realm)) fail('realm changed');
      if (!r.password.equals(raw.password)) fail('password changed');
      if ((r.clientAddr === null) !== (raw.clientAddr === null)) fail('client address presence changed');
      if (r.clientAddr !== null && !Buffer.from(r.clientAddr, 'utf8').equals(raw.clientAddr!)) fail('client address changed');
    }
  },
);

// --- passwd / shadow -------------------------------------------------------------------------------

const name = fc.stringMatching(/^[a-z_][a-z0-9_-]{0,12}$/);
const days = fc.oneof(fc.constant(''), fc.integer({ min: 0, max: 40000 }).map(String), fc.constant('-1'));
const hash = fc.oneof(
  fc.constantFrom('*', '!', '!*', '', '*NP*', 'x'),
  fc.stringMatching(/^\$(y|6|5|1|2b)\$[./A-Za-z0-9$]{4,60}$/),
  fc.stringMatching(/^![./A-Za-z0-9$]{13,40}$/),
);
const shadowLine = fc.tuple(name, hash, days, days, days, days, days, days).map((f) => `${f.join(':')}:`);
const passwdLine = fc
  .tuple(name, fc.constantFrom('x', '*', ''), fc.nat(70000), fc.nat(70000), fc.stringMatching(/^[A-Za-z ,]{0,10}$/), fc.constantFrom('/home/u', '/'), fc.constantFrom('/bin/sh', '/usr/sbin/nologin'))
  .map((f) => f.join(':'));
const junkLine = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 40 }).map((s) => s.replace(/\n/g, '')),
  fc.constantFrom('#comment', '+', '-nis', '', ':::::::::', 'a:b', 'root:x:0:0:root:/root:/bin/bash:extra'),
);

/** Splits into whole lines exactly as a file reader must: only newline-terminated lines count. */
function wholeLines(text: string): string[] {
  const parts = text.split('\n');
  parts.pop();
  return parts;
}

function fileProperty(kind: 'shadow' | 'passwd'): fc.IRawProperty<unknown[]> {
  const good = kind === 'shadow' ? shadowLine : passwdLine;
  const width = kind === 'shadow' ? 9 : 7;
  return fc.property(
    fc.array(fc.oneof({ weight: 3, arbitrary: good }, { weight: 1, arbitrary: junkLine }), { maxLength: 30 }),
    fc.nat(),
    (lines, cut) => {
      const full = lines.map((l) => `${l}\n`).join('');
      // A file caught mid-write is any prefix of it.
      const text = full.slice(0, cut % (full.length + 1));
      const parsed = kind === 'shadow' ? parseShadow(text) : parsePasswd(text);
      const byName = new Map<string, string>();
      for (const l of wholeLines(text)) {
        const f = l.split(':');
        if (f.length !== width || f[0] === '' || /^[#+-]/.test(l)) continue;
        if (!byName.has(f[0]!)) byName.set(f[0]!, l);
      }
      for (const [user, e] of parsed.entries) {
        // Every entry comes from one whole line of the file, first occurrence of the name.
        const line = byName.get(user) ?? fail(`entry ${JSON.stringify(user)} has no whole line in the input`);
        const f = line.split(':');
        if ('hash' in e) {
          if (e.hash !== f[1]) fail('hash differs from its line');
          const num = (s: string): number | null => (s === '' || s === '-1' ? null : Number(s));
          const want = [num(f[2]!), num(f[3]!), num(f[4]!), num(f[5]!), num(f[6]!), num(f[7]!)];
          const got = [e.lastChange, e.minDays, e.maxDays, e.warnDays, e.inactiveDays, e.expireDay];
          if (JSON.stringify(want) !== JSON.stringify(got)) fail(`ageing ${JSON.stringify(got)} differs from its line ${JSON.stringify(want)}`);
        } else {
          if (e.passwd !== f[1] || e.uid !== Number(f[2]) || e.gid !== Number(f[3]) || e.dir !== f[5] || e.shell !== f[6]) {
            fail('passwd entry differs from its line');
          }
        }
      }
      // A well-formed whole line is never lost (its name is unique and first).
      for (const l of wholeLines(text)) {
        const f = l.split(':');
        if (f.length !== width || /^[#+-]/.test(l) || f[0] === '') continue;
        const wellFormed = kind === 'shadow'
          ? f.slice(2, 8).every((d) => d === '' || /^\d{1,9}$/.test(d) || d === '-1')
          : /^\d{1,10}$/.test(f[2]!) && /^\d{1,10}$/.test(f[3]!);
        if (wellFormed && byName.get(f[0]!) === l && !parsed.entries.has(f[0]!)) fail(`well-formed line for ${f[0]} was dropped`);
      }
    },
  );
}

// --- saslauthd.conf and the LDAP settings built from it ---------------------------------------------

type ConfModel = { kind: 'error'; line: number } | { kind: 'entries'; entries: Array<{ key: string; value: string; line: number }> };

/** saslauthd.conf syntax written out independently: `key: value`, `#` comments, blank lines, 4096-char lines. */
function confModel(text: string): ConfModel {
  const entries: Array<{ key: string; value: string; line: number }> = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i]!;
    if (raw.length > 4096) return { kind: 'error', line: i + 1 };
    let end = raw.length;
    while (end > 0 && ' \t\r'.includes(raw[end - 1]!)) end--;
    let start = 0;
    while (start < end && ' \t'.includes(raw[start]!)) start++;
    const body = raw.slice(start, end);
    if (body === '' || body[0] === '#') continue;
    const colon = body.indexOf(':');
    const key = colon < 0 ? '' : body.slice(0, colon);
    if (key === '' || [...key].some((c) => !/[A-Za-z0-9_-]/.test(c))) return { kind: 'error', line: i + 1 };
    let v = colon + 1;
    while (v < body.length && ' \t'.includes(body[v]!)) v++;
    if (v === body.length) return { kind: 'error', line: i + 1 };
    entries.push({ key: key.toLowerCase(), value: body.slice(v), line: i + 1 });
  }
  return { kind: 'entries', entries };
}

const confKey = fc.oneof(
  fc.constantFrom(...LDAP_KEYS),
  fc.constantFrom(...LDAP_KEYS).map((k) => k.toUpperCase()),
  fc.stringMatching(/^[A-Za-z0-9_-]{1,20}$/),
  fc.string({ maxLength: 12 }),
);
const confValue = fc.oneof(
  fc.string({ maxLength: 40 }).map((s) => s.replace(/\n/g, '')),
  fc.constantFrom('yes', 'No', 'ON', '0', '1', '3', '2', '5', '0.5', '-1', '99999999999', 'sub', 'ONE', 'base', 'never', 'always', 'bind', 'fastbind', 'custom', 'attr', 'filter'),
  fc.constantFrom('ldap://127.0.0.1/', 'ldaps://[::1]:636/', 'ldapi:///', 'ldapi://%2Ftmp%2Fx/', 'ldap://h:0/', 'ldap://h:99999/', 'ldapi://%zz/', 'http://x/', 'ldap://a/ ldap://b:1/'),
  fc.constantFrom('(uid=%u)', '(&(uid=%U)(mail=%u@%d))', '(uid=%x)', '(uid=%u', '((', '%', 'uid=%u,dc=%1,dc=%2', 'cn=%D', '(cn=%s%r)'),
  fc.constantFrom('/etc/hostname', '/etc', '/nonexistent/file', ''),
);
const confLine = fc.oneof(
  { weight: 4, arbitrary: fc.tuple(fc.constantFrom('', ' ', '\t', '  '), confKey, fc.constantFrom(':', ': ', ':\t', ' : ', ''), confValue, fc.constantFrom('', ' ', '\r', ' \t\r')).map((p) => p.join('')) },
  { weight: 1, arbitrary: fc.constantFrom('', '# comment', '   # indented: comment', '\t', 'no colon here', ':value', 'x'.repeat(4097), `k: ${'v'.repeat(4094)}`) },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 60 }).map((s) => s.replace(/\n/g, '')) },
);
const confText = fc.array(confLine, { maxLength: 25 }).map((ls) => ls.join('\n'));

/** Random text: the reader returns exactly the model's entries or throws its own ConfigError at the model's line. */
const confReader = fc.property(confText, (text) => {
  const want = confModel(text);
  let got: ReturnType<typeof parseSaslauthdConf>;
  try {
    got = parseSaslauthdConf(text, '/fuzz/saslauthd.conf');
  } catch (e) {
    if (!(e instanceof ConfigError)) fail(`threw something other than ConfigError: ${String(e)}`);
    if (e.file !== '/fuzz/saslauthd.conf') fail('ConfigError names another file');
    if (want.kind !== 'error') fail(`ConfigError (${e.message}) for a file the model accepts`);
    if (e.line !== want.line) fail(`ConfigError at line ${e.line}, model says ${want.line}`);
    return;
  }
  if (want.kind === 'error') fail(`accepted a file the model rejects at line ${want.line}`);
  if (JSON.stringify(got) !== JSON.stringify(want.entries)) fail(`entries ${JSON.stringify(got)} differ from the model ${JSON.stringify(want.entries)}`);
});

/** Random text through the whole LDAP config path: an LdapConfig or a ConfigError, nothing else escapes. */
const ldapConfigTotal = fc.property(confText, (text) => {
  try {
    const c = buildLdapConfig(parseSaslauthdConf(text, '/fuzz/saslauthd.conf'), '/fuzz/saslauthd.conf');
    if (c.servers.length === 0) fail('a config without servers');
  } catch (e) {
    if (!(e instanceof ConfigError)) fail(`threw something other than ConfigError: ${e instanceof Error ? e.stack : String(e)}`);
  }
});

/** Valid settings, each with the field it sets and the value it must have there. */
interface ConfSetting {
  readonly key: string;
  readonly field: string;
  readonly text: string;
  readonly expected: unknown;
}

const anyCase = (s: string): fc.Arbitrary<string> =>
  fc.array(fc.boolean(), { minLength: s.length, maxLength: s.length }).map((up) => [...s].map((c, i) => (up[i] ? c.toUpperCase() : c)).join(''));
const plainValue = fc.stringMatching(/^[!-~]([ -~]{0,30}[!-~])?$/).filter((v) => !v.includes('%'));
const boolText = fc.constantFrom<[string, boolean]>(['yes', true], ['Y', true], ['true', true], ['On', true], ['1', true], ['no', false], ['N', false], ['FALSE', false], ['off', false], ['0', false]);
const setting = (key: string, field: string, arb: fc.Arbitrary<[string, unknown]>): fc.Arbitrary<ConfSetting> => arb.map(([text, expected]) => ({ key, field, text, expected }));
const stringSetting = (key: string, field: string): fc.Arbitrary<ConfSetting> => setting(key, field, plainValue.map((v) => [v, v]));
const host = fc.oneof(fc.stringMatching(/^[a-z][a-z0-9.-]{0,20}$/), fc.constantFrom('127.0.0.1', '[::1]', '[2001:db8::7]'));
const server = fc.tuple(fc.constantFrom('ldap', 'ldaps'), host, fc.option(fc.integer({ min: 1, max: 65535 }), { nil: undefined })).map(([k, h, p]) => ({
  uri: `${k}://${h}${p === undefined ? '' : `:${p}`}/`,
  expected: { kind: k, uri: `${k}://${h}${p === undefined ? '' : `:${p}`}/`, host: h.replace(/^\[|\]$/g, ''), port: p ?? (k === 'ldaps' ? 636 : 389) },
}));
const FILTERS = ['(uid=%u)', '(&(objectClass=inetOrgPerson)(uid=%U))', '(|(mail=%u@%d)(uid=%u))', '(cn=%1)'];

const validSetting: fc.Arbitrary<ConfSetting> = fc.oneof(
  setting('ldap_servers', 'servers', fc.array(server, { minLength: 1, maxLength: 3 }).map((ss) => [ss.map((s) => s.uri).join(' '), ss.map((s) => s.expected)])),
  stringSetting('ldap_bind_dn', 'bindDn'),
  stringSetting('ldap_bind_pw', 'bindPw'),
  stringSetting('ldap_password', 'bindPw'),
  setting('ldap_version', 'version', fc.constantFrom<[string, unknown]>(['2', 2], ['3', 3])),
  stringSetting('ldap_search_base', 'searchBase'),
  setting('ldap_filter', 'filter', fc.constantFrom(...FILTERS).map((f) => [f, f])),
  setting('ldap_scope', 'scope', fc.constantFrom('sub', 'one', 'base').chain((v) => anyCase(v).map((t) => [t, v]))),
  setting('ldap_auth_method', 'authMethod', fc.constantFrom('bind', 'fastbind', 'custom').chain((v) => anyCase(v).map((t) => [t, v]))),
  stringSetting('ldap_password_attr', 'passwordAttr'),
  stringSetting('ldap_default_realm', 'defaultRealm'),
  stringSetting('ldap_default_domain', 'defaultRealm'),
  setting('ldap_timeout', 'timeoutSec', fc.tuple(fc.integer({ min: 0, max: 999_999 }), fc.integer({ min: 0, max: 999 })).filter(([a, b]) => a + b > 0).map(([a, b]) => {
    const t = b === 0 ? `${a}` : `${a}.${String(b).padStart(3, '0')}`;
    return [t, parseFloat(t)];
  })),
  setting('ldap_time_limit', 'timeLimitSec', fc.integer({ min: 0, max: 999_999_999 }).map((n) => [String(n), n])),
  setting('ldap_size_limit', 'sizeLimit', fc.integer({ min: 0, max: 999_999_999 }).map((n) => [String(n), n])),
  setting('ldap_deref', 'deref', fc.constantFrom('never', 'search', 'find', 'always').chain((v) => anyCase(v).map((t) => [t, v]))),
  ...(['ldap_referrals:referrals', 'ldap_restart:restart', 'ldap_start_tls:startTls', 'ldap_tls_check_peer:tlsCheckPeer'].map((kf) => {
    const [k, f] = kf.split(':') as [string, string];
    return setting(k, f, boolText);
  })),
  setting('ldap_use_sasl', 'useSasl', boolText.filter(([, b]) => !b)),
  setting('ldap_tls_cacert_file', 'tlsCacertFile', fc.constant<[string, unknown]>(['/etc/hostname', '/etc/hostname'])),
  setting('ldap_tls_cacert_dir', 'tlsCacertDir', fc.constant<[string, unknown]>(['/etc', '/etc'])),
  stringSetting('ldap_tls_ciphers', 'tlsCiphers'),
  stringSetting('ldap_sasl_mech', 'saslMech'),
  stringSetting('ldap_realm', 'saslRealm'),
  stringSetting('ldap_group_attr', 'groupAttr'),
  stringSetting('ldap_group_search_base', 'groupSearchBase'),
  setting('ldap_group_scope', 'groupScope', fc.constantFrom('sub', 'one', 'base').chain((v) => anyCase(v).map((t) => [t, v]))),
  setting('ldap_debug', 'debug', fc.integer({ min: 0, max: 999_999_999 }).map((n) => [String(n), n])),
  setting('ldap_pool_size', 'poolSize', fc.integer({ min: 1, max: 1024 }).map((n) => [String(n), n])),
);

/** Valid settings written with comments, blank lines, indentation, CRLF and upper-case keys read back as written (last one wins). */
const ldapConfigRoundTrip = fc.property(
  fc.array(fc.tuple(validSetting, fc.constantFrom('', ' ', '\t'), fc.constantFrom(':', ': ', ':\t '), fc.constantFrom('\n', '\r\n', ' \n', '\n\n', '\n# note: x\n'), fc.boolean()), { maxLength: 20 }),
  (items) => {
    const text = items.map(([s, indent, sep, eol, upper]) => `${indent}${upper ? s.key.toUpperCase() : s.key}${sep}${s.text}${eol}`).join('');
    let c: Record<string, unknown>;
    try {
      c = buildLdapConfig(parseSaslauthdConf(text, '/fuzz/saslauthd.conf'), '/fuzz/saslauthd.conf') as unknown as Record<string, unknown>;
    } catch (e) {
      return fail(`valid config refused: ${String(e)}\n${text}`);
    }
    const want = new Map<string, unknown>();
    for (const [s] of items) want.set(s.field, s.expected);
    if (!want.has('groupSearchBase')) want.set('groupSearchBase', want.has('searchBase') ? want.get('searchBase') : '');
    for (const [field, v] of want) {
      if (JSON.stringify(c[field]) !== JSON.stringify(v)) fail(`${field} is ${JSON.stringify(c[field])}, written ${JSON.stringify(v)}\n${text}`);
    }
  },
);

export const FUZZ_TARGETS: readonly FuzzTarget[] = [
  { name: 'request decoder vs model (request-like bytes, any chunking)', property: decoderMatchesModel },
  { name: 'request decoder vs model (random bytes, any chunking)', property: decoderRandomBytes },
  { name: 'request decoder round trip (valid v4/v5, any chunking)', property: decoderRoundTrip },
  { name: 'reply decoder vs model', property: replyDecoder },
  { name: 'reply encode/decode round trip', property: replyRoundTrip },
  { name: 'validateRequest: accepts exactly the valid requests, text unchanged', property: validation },
  { name: 'shadow parser: truncated/damaged files yield only true entries', property: fileProperty('shadow') },
  { name: 'passwd parser: truncated/damaged files yield only true entries', property: fileProperty('passwd') },
  { name: 'saslauthd.conf reader vs model (random text: entries or ConfigError at the right line)', property: confReader },
  { name: 'LDAP config from random text: an LdapConfig or a ConfigError, nothing else', property: ldapConfigTotal },
  { name: 'LDAP config round trip (valid generated settings read back exactly)', property: ldapConfigRoundTrip },
];
