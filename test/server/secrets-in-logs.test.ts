import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, sendRequest } from '../../src/client/saslauthd-client.js';
import { encodeRequest } from '../../src/protocol/index.js';
import { startOurs } from '../fixtures/daemon.js';
import { type RunningDovecot, startDovecot } from '../fixtures/dovecot.js';
import { must, run } from '../fixtures/run.js';
import { ADMIN_DN, ADMIN_PW, PEOPLE, SERVICE_DN, SERVICE_PW, SUFFIX, Slapd, USERS as LDAP_USERS, writeSaslauthdConf } from '../fixtures/slapd.js';
import { testsaslauthd } from '../fixtures/testsaslauthd.js';
import { saslpasswd } from '../fixtures/sasldb.js';
import { ensureUser, mkpasswd, removeUser } from '../fixtures/users.js';
import { HOST, type Kdc, createKdc } from '../fixtures/kdc.js';

/**
 * saslauthd prints shadow hashes, rimap and httpform passwords in its debug log (reference §8.7).
 * Each backend runs here at the most verbose level, in both log formats, through good, bad and
 * malformed requests; nothing secret may appear: not the users' passwords, not their stored hashes,
 * not a peer's secret (the LDAP service bind password), not the credential cache's HMAC.
 */
interface CaseContext {
  readonly args: string[];
  /** Users with their right password; the first must get OK, and `failUser` is logged as a failure. */
  readonly users: Array<{ name: string; password: string }>;
  /** Stored hashes, peer passwords and other key material that must never be printed. */
  readonly secrets: string[];
  /** Service name sent in requests (pam picks /etc/pam.d/<service> from it). */
  readonly service: string;
  /** A user whose failed attempt must be logged (shows failures were logged at all). */
  readonly failUser: string;
}

interface SecretCase {
  readonly name: string;
  readonly setup: () => Promise<CaseContext>;
  readonly teardown: () => Promise<void>;
  /** Extra checks on the output (e.g. that the cache really answered). */
  readonly check?: (out: string) => void;
}

const GOOD = { name: 'sat_rel_sec_good', password: 'Zq8#good-Passw0rd' };
const SHA = { name: 'sat_rel_sec_sha', password: 'Vw3!sha-Passw0rd' };
const LOCKED = { name: 'sat_rel_sec_lock', password: 'Lk5%locked-Passw0rd' };
const GP_INLINE = { name: 'sat_rel2_gp_inline', password: 'Gp7&inline-Passw0rd' };
const GP_SHADOWED = { name: 'sat_rel2_gp_shadow', password: 'Gp8(shadowed-Passw0rd' };
const PAM_SERVICE = 'sat-rel2-unix';
const PAM_GOOD = { name: 'sat_rel2_pam_good', password: 'Pm4)pam-Passw0rd' };
const PAM_LOCKED = { name: 'sat_rel2_pam_lock', password: 'Pm5*pam-locked-Passw0rd' };
const CACHE_A = { name: 'sat_rel2_cache_a', password: 'Ch1+cache-Passw0rd' };
const CACHE_B = { name: 'sat_rel2_cache_b', password: 'Ch2=cache-Passw0rd' };
// Space, quote, backslash, a literal marker and 8-bit text: LOGIN has to quote or send a literal.
const IMAP_USERS = [
  { name: 'sat_rel2_imap_a', password: 'Im6;imap-Passw0rd' },
  { name: 'sat_rel2_imap_b', password: 'Im7 "q\\uo{5}té€-Passw0rd' },
];
const SASLDB_USERS = [
  { name: 'sat_sd_sec_a', password: 'Sd1^sasldb-Passw0rd' },
  { name: 'sat_sd_sec_b', password: 'Sd2~sasldb-Pässw0rd ✓' },
];
let sasldbDir = '';
const LDAP_CASE_USERS = [
  { name: 'alice', password: LDAP_USERS.alice },
  { name: 'bob', password: LDAP_USERS.bob },
  { name: 'carol', password: LDAP_USERS.carol },
  { name: 'u_crypt', password: LDAP_USERS.u_crypt },
];
// Ports 25600-25699 belong to the rel2 work: slapd on 25600, Dovecot on 25610-25612.
const LDAP_PORT = 25600;
const DOVECOT_BASE = 25610;

/** A hash, and its salt and digest parts on their own. */
function hashParts(hashes: readonly string[]): string[] {
  return hashes.flatMap((h) => [h, ...h.split('$').filter((p) => p.length >= 8)]);
}

/** getpwent reads pw_passwd through NSS: put the hash of this one sat_rel2_ user into /etc/passwd itself. */
async function movePasswdHashIntoPasswd(name: string, hash: string): Promise<void> {
  if (!name.startsWith('sat_rel2_') || !/^[$./0-9A-Za-z]+$/.test(hash)) throw new Error('refusing to edit /etc/passwd');
  const esc = hash.replace(/[/$]/g, (c) => `\\${c}`);
  await must('flock', ['-w', '60', '/tmp/sat-users.lock', 'sed', '-i', `s/^${name}:x:/${name}:${esc}:/`, '/etc/passwd']);
  const line = (await must('getent', ['passwd', name])).trim();
  if (line.split(':')[1] !== hash) throw new Error(`could not put the hash into /etc/passwd: ${line}`);
}

async function shadowHash(user: string): Promise<string> {
  const r = await run('getent', ['shadow', user]);
  const hash = r.stdout.split(':')[1];
  if (!hash) throw new Error(`no shadow entry for ${user}`);
  return hash;
}

const CASES: SecretCase[] = [
  {
    name: 'shadow',
    setup: async () => {
      await ensureUser(GOOD.name, await mkpasswd(GOOD.password, 'yescrypt'));
      await ensureUser(SHA.name, await mkpasswd(SHA.password, 'sha-512'));
      await ensureUser(LOCKED.name, `!${await mkpasswd(LOCKED.password, 'sha-256')}`);
      const parts = hashParts(await Promise.all([GOOD, SHA, LOCKED].map((u) => shadowHash(u.name))));
      return { args: ['-a', 'shadow'], users: [GOOD, SHA, LOCKED], secrets: parts, service: 'imap', failUser: LOCKED.name };
    },
    teardown: async () => {
      for (const u of [GOOD, SHA, LOCKED]) await removeUser(u.name);
    },
  },
  {
    name: 'getpwent',
    setup: async () => {
      const inline = await mkpasswd(GP_INLINE.password, 'sha-512');
      await ensureUser(GP_INLINE.name, '!');
      await movePasswdHashIntoPasswd(GP_INLINE.name, inline);
      await ensureUser(GP_SHADOWED.name, await mkpasswd(GP_SHADOWED.password, 'yescrypt'));
      const secrets = hashParts([inline, await shadowHash(GP_SHADOWED.name)]);
      return { args: ['-a', 'getpwent', '-n', '2'], users: [GP_INLINE, GP_SHADOWED], secrets, service: 'imap', failUser: GP_SHADOWED.name };
    },
    teardown: async () => {
      for (const u of [GP_INLINE, GP_SHADOWED]) await removeUser(u.name);
    },
  },
  {
    name: 'pam',
    setup: async () => {
      writeFileSync(`/etc/pam.d/${PAM_SERVICE}`, 'auth required pam_unix.so\naccount required pam_unix.so\n');
      await ensureUser(PAM_GOOD.name, await mkpasswd(PAM_GOOD.password, 'yescrypt'));
      await ensureUser(PAM_LOCKED.name, `!${await mkpasswd(PAM_LOCKED.password, 'sha-512')}`);
      const secrets = hashParts(await Promise.all([PAM_GOOD, PAM_LOCKED].map((u) => shadowHash(u.name))));
      return { args: ['-a', 'pam', '-n', '2', '--pam-fail-delay', '0'], users: [PAM_GOOD, PAM_LOCKED], secrets, service: PAM_SERVICE, failUser: PAM_LOCKED.name };
    },
    teardown: async () => {
      for (const u of [PAM_GOOD, PAM_LOCKED]) await removeUser(u.name);
      rmSync(`/etc/pam.d/${PAM_SERVICE}`, { force: true });
    },
  },
  {
    name: 'ldap, ldap_auth_method bind with a service bind password',
    setup: async () => {
      const s = await getSlapd();
      const conf = writeSaslauthdConf({ ldap_servers: s.url, ldap_search_base: PEOPLE, ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW, ldap_timeout: 5 });
      return { args: ['-a', 'ldap', '-O', conf], users: LDAP_CASE_USERS, secrets: await ldapSecrets(s), service: 'imap', failUser: 'bob' };
    },
    teardown: async () => {},
  },
  {
    name: 'ldap, ldap_auth_method custom (the daemon reads userPassword hashes)',
    setup: async () => {
      const s = await getSlapd();
      const conf = writeSaslauthdConf({ ldap_servers: s.url, ldap_search_base: PEOPLE, ldap_bind_dn: SERVICE_DN, ldap_password: SERVICE_PW, ldap_auth_method: 'custom', ldap_timeout: 5 });
      return { args: ['-a', 'ldap', '-O', conf], users: LDAP_CASE_USERS, secrets: await ldapSecrets(s), service: 'imap', failUser: 'bob' };
    },
    teardown: async () => {},
  },
  {
    name: 'rimap, AUTHENTICATE PLAIN',
    setup: async () => rimapContext(await getDovecot(), []),
    teardown: async () => {},
  },
  {
    name: 'rimap, LOGIN with quoted strings and literals',
    setup: async () => rimapContext(await getDovecot(), ['--rimap-auth', 'login']),
    teardown: async () => {},
  },
  {
    // sasldb stores clear-text passwords: the value read from the file is the password itself.
    name: 'sasldb',
    setup: async () => {
      sasldbDir = mkdtempSync('/tmp/sat_sd-sec-');
      for (const u of SASLDB_USERS) await saslpasswd(`${sasldbDir}/sasldb2`, u.name, u.password);
      return { args: ['-a', 'sasldb', '-O', `${sasldbDir}/sasldb2`], users: SASLDB_USERS, secrets: [], service: 'imap', failUser: SASLDB_USERS[1]!.name };
    },
    teardown: async () => rmSync(sasldbDir, { recursive: true, force: true }),
  },
  {
    // libkrb5's error texts quote the principal; none may carry the password or the KDC's keys.
    name: 'kerberos5 against a throwaway MIT KDC',
    setup: async () => {
      kdc = await createKdc('/tmp/sat_kr_secrets/kdc', 'SAT-SEC.TEST', KDC_PORT, '/tmp/sat_kr_secrets/krb5.keytab');
      for (const u of KRB_USERS) await kdc.addPrincipal(u.name, u.password, u === KRB_USERS[1] ? '+requires_preauth' : '');
      await kdc.kadmin(`addprinc -randkey host/${HOST}`);
      await kdc.ktadd('/tmp/sat_kr_secrets/krb5.keytab', `host/${HOST}`);
      await kdc.start();
      // startOurs passes this process's environment on: point libkrb5 at the throwaway realm.
      savedKrb5Env = { KRB5_CONFIG: process.env['KRB5_CONFIG'], KRB5RCACHEDIR: process.env['KRB5RCACHEDIR'] };
      process.env['KRB5_CONFIG'] = kdc.clientEnv['KRB5_CONFIG'];
      process.env['KRB5RCACHEDIR'] = kdc.clientEnv['KRB5RCACHEDIR'];
      return { args: ['-a', 'kerberos5'], users: KRB_USERS, secrets: ['sat_kr-master-key'], service: 'imap', failUser: KRB_USERS[1]!.name };
    },
    teardown: async () => {
      for (const [k, v] of Object.entries(savedKrb5Env)) {
        if (v === undefined) delete process.env[k];
        else process.env[k] = v;
      }
      await kdc?.destroy();
      rmSync('/tmp/sat_kr_secrets', { recursive: true, force: true });
    },
  },
  {
    name: 'credential cache (-c) over shadow',
    setup: async () => {
      await ensureUser(CACHE_A.name, await mkpasswd(CACHE_A.password, 'sha-512'));
      await ensureUser(CACHE_B.name, await mkpasswd(CACHE_B.password, 'yescrypt'));
      const secrets = hashParts(await Promise.all([CACHE_A, CACHE_B].map((u) => shadowHash(u.name))));
      return { args: ['-a', 'shadow', '-c', '-t', '600'], users: [CACHE_A, CACHE_B], secrets, service: 'imap', failUser: CACHE_B.name };
    },
    teardown: async () => {
      for (const u of [CACHE_A, CACHE_B]) await removeUser(u.name);
    },
    // The session answers each right password more than once: the cache must really have answered.
    check: (out) => expect(out).toMatch(/cached["=:]+true/),
  },
];

// Port 26860 belongs to the kerberos5 work (issue 17).
const KDC_PORT = 26860;
const KRB_USERS = [
  { name: 'sat_kr_sec_a', password: 'Kr3;sec-a-Passw0rd' },
  { name: 'sat_kr_sec_b', password: 'Kr4#sec-b-Passw0rd' },
];
let kdc: Kdc | undefined;
let savedKrb5Env: Record<string, string | undefined> = {};

// Peers shared by the cases that use them, stopped once at the end.
let slapd: Slapd | undefined;
let dovecot: RunningDovecot | undefined;

async function getSlapd(): Promise<Slapd> {
  slapd ??= await Slapd.create({ port: LDAP_PORT });
  return slapd;
}

async function getDovecot(): Promise<RunningDovecot> {
  dovecot ??= await startDovecot({ basePort: DOVECOT_BASE, users: IMAP_USERS });
  return dovecot;
}

afterAll(async () => {
  await slapd?.destroy();
  await dovecot?.stop();
});

/** The service and admin passwords, and every userPassword value as stored (read as the admin). */
async function ldapSecrets(s: Slapd): Promise<string[]> {
  const out = await must('ldapsearch', ['-x', '-LLL', '-o', 'ldif-wrap=no', '-H', s.url, '-D', ADMIN_DN, '-w', ADMIN_PW, '-b', SUFFIX, 'userPassword']);
  const stored = [...out.matchAll(/^userPassword(::?) (.*)$/gm)].map((m) => (m[1] === '::' ? Buffer.from(m[2]!, 'base64').toString('utf8') : m[2]!));
  if (stored.length < 10) throw new Error(`expected the seeded userPassword values, got:\n${out}`);
  const b64 = [...out.matchAll(/^userPassword:: (.*)$/gm)].map((m) => m[1]!);
  // {SSHA}… and {CRYPT}$6$…: the whole value, the part after the scheme, its $-separated parts.
  const parts = stored.flatMap((v) => [v, v.replace(/^\{[^}]+\}/, '')]).filter((v) => v.length >= 6);
  return [SERVICE_PW, ADMIN_PW, ...hashParts(parts), ...b64];
}

function rimapContext(d: RunningDovecot, extra: string[]): CaseContext {
  // AUTHENTICATE PLAIN carries base64("\0user\0password"): that is the password too.
  const plain = IMAP_USERS.map((u) => Buffer.from(`\0${u.name}\0${u.password}`).toString('base64'));
  return { args: ['-a', 'rimap', '-O', `127.0.0.1/${d.plainPort}`, ...extra], users: [...IMAP_USERS], secrets: [...plain, ...dovecotDigests()], service: 'imap', failUser: IMAP_USERS[0]!.name };
}

/** The digests Dovecot's passwd-file holds for the IMAP users (see test/fixtures/dovecot.ts). */
function dovecotDigests(): string[] {
  return IMAP_USERS.map((u) => createHash('sha256').update(Buffer.from(u.password, 'utf8')).digest('base64'));
}


/** Every way a password could leak into text. */
function encodings(s: string): string[] {
  const b = Buffer.from(s, 'utf8');
  return [s, b.toString('hex'), b.toString('base64'), b.toString('base64url'), JSON.stringify(s).slice(1, -1), encodeURIComponent(s)];
}

/** A session of good, bad and malformed requests, as clients and attackers send them. */
async function session(socket: string, ctx: CaseContext): Promise<void> {
  const service = ctx.service;
  for (const u of ctx.users) {
    await testsaslauthd(socket, u.name, u.password, { service });
    await testsaslauthd(socket, u.name, `${u.password}x`, { service });
    await testsaslauthd(socket, u.name, u.password, { realm: 'example.org', service });
    await testsaslauthd(socket, u.name, u.password, { service }); // a second success (a cache hit with -c)
    await sendRequest(socket, { login: u.name, password: u.password, service, realm: '', clientAddr: '192.0.2.7;4242' });
    await exchange(socket, encodeRequest([u.name, `${u.password}\0tail`, service, ''])); // NUL in password
    await exchange(socket, encodeRequest([u.name, Buffer.concat([Buffer.from(u.password), Buffer.from([0xff, 0xfe])]), service, '']));
    await exchange(socket, encodeRequest([Buffer.from([0xc3, 0x28]), u.password, service, ''])); // bad UTF-8 login
    await exchange(socket, encodeRequest(['', u.password, service, '']));
    await exchange(socket, encodeRequest([u.name, u.password.repeat(30), service, ''])); // over 256 bytes
    // A client that sends half a request and goes away.
    await new Promise<void>((resolve) => {
      const s = connect({ path: socket }, () => {
        s.end(encodeRequest([u.name, u.password, service, '']).subarray(0, -3));
      });
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      s.resume();
    });
  }
  await testsaslauthd(socket, 'sat_rel2_nosuch', 'Unknown#user-Pass', { service });
}

describe('no secret in the most verbose logs', () => {
  for (const c of CASES) {
    describe(c.name, () => {
      let ctx: Awaited<ReturnType<SecretCase['setup']>>;
      beforeAll(async () => {
        ctx = await c.setup();
      });
      afterAll(() => c.teardown());

      for (const logArgs of [['-V', '--log-level', 'trace'], ['-d', '--log-level', 'trace', '--log-format', 'json']]) {
        it(`${logArgs.join(' ')}: no password, hash or key material in the output`, async () => {
          const d = await startOurs([...ctx.args, ...logArgs]);
          let out: string;
          try {
            await session(d.socket, ctx);
          } finally {
            await d.stop();
            out = d.output();
          }
          // The session really was logged at trace/debug detail (the check would be empty otherwise).
          expect(out).toContain(`auth success: [user=${ctx.users[0]!.name}]`);
          expect(out).toMatch(/rejected malformed request: nul-byte in password/);
          expect(out).toMatch(/exceeded MAX_REQ_LEN/);
          expect(out).toContain(`auth failure: [user=${ctx.failUser}]`);
          const needles = [...ctx.users.flatMap((u) => encodings(u.password)), 'Unknown#user-Pass', ...ctx.secrets];
          for (const n of needles) expect(out.includes(n), `output contains ${JSON.stringify(n)}`).toBe(false);
          // No 256-bit key or MAC in hex or base64 (cache HMACs, derived keys).
          expect(out).not.toMatch(/\b[0-9a-f]{64}\b/i);
          // base64 of 32 bytes: 43 characters and '=' (standard), or 43 unpadded (base64url).
          expect(out).not.toMatch(/[A-Za-z0-9+/]{43}=/);
          expect(out).not.toMatch(/(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}(?![A-Za-z0-9_-])/);
          c.check?.(out);
        });
      }
    });
  }
});
