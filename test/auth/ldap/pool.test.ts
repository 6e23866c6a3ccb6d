import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Server, type Socket, createServer } from 'node:net';
import pino from 'pino';
import { LdapAuthenticator } from '../../../src/auth/backends/ldap/ldap.js';
import { Secret } from '../../../src/auth/secret.js';
import type { AuthRequest } from '../../../src/auth/authenticator.js';
import { buildLdapConfig } from '../../../src/auth/backends/ldap/config.js';
import { parseSaslauthdConf } from '../../../src/auth/backends/saslauthd-conf.js';
import { Crypt } from '../../../src/native/crypt.js';
import { SERVICE_DN, SERVICE_PW, SUFFIX, Slapd, USERS } from '../../fixtures/slapd.js';

// The backend in-process against a real slapd: pooled connections under concurrency, deadlines,
// aborts. Verdicts are checked one by one, so a stale bind state would show as a wrong OK.

const PORT = 23940;
const BLACKHOLE = 23941;
let slapd: Slapd;
let hole: Server;
const held: Socket[] = [];
const crypt = new Crypt(4);
const log = pino({ level: 'silent' });

function backend(lines: Record<string, string | number>): LdapAuthenticator {
  const text = Object.entries(lines).map(([k, v]) => `${k}: ${v}\n`).join('');
  return new LdapAuthenticator(buildLdapConfig(parseSaslauthdConf(text, 'test.conf'), 'test.conf'), crypt, log);
}

const req = (login: string, password: string, realm = ''): AuthRequest => ({ login, password: Secret.fromString(password), service: 'imap', realm, clientAddr: null });

beforeAll(async () => {
  slapd = await Slapd.create({ port: PORT });
  hole = createServer((s) => held.push(s));
  await new Promise<void>((r) => hole.listen(BLACKHOLE, '127.0.0.1', r));
});

afterAll(async () => {
  for (const s of held) s.destroy();
  hole?.close();
  await slapd?.destroy();
});

const PROBES: Array<[string, string, boolean]> = [
  ['alice', USERS.alice, true],
  ['bob', 'wrong', false],
  ['bob', USERS.bob, true],
  ['carol', USERS.alice, false],
  ['nobody', USERS.bob, false],
  ['dave', USERS.dave, true],
  ['alice', USERS.bob, false],
];

describe('connection pool', () => {
  for (const method of ['bind', 'fastbind', 'custom'] as const) {
    it(`${method}: 700 mixed requests at concurrency 32 over a pool of 2 are each decided right`, async () => {
      const b = backend({
        ldap_servers: slapd.url,
        ldap_search_base: method === 'custom' ? `ou=people,${SUFFIX}` : SUFFIX,
        ldap_bind_dn: SERVICE_DN,
        ldap_bind_pw: SERVICE_PW,
        ldap_auth_method: method,
        ldap_pool_size: 2,
        ...(method === 'fastbind' ? { ldap_filter: `uid=%u,ou=people,${SUFFIX}` } : {}),
      });
      try {
        const wrong: string[] = [];
        let n = 0;
        await Promise.all(
          Array.from({ length: 32 }, async () => {
            while (n < 700) {
              const [u, p, want] = PROBES[n++ % PROBES.length]!;
              const o = await b.authenticate(req(u, p), new AbortController().signal);
              if ((o.kind === 'ok') !== want) wrong.push(`${u}: ${o.kind} ${o.kind !== 'ok' ? o.reason : ''}`);
            }
          }),
        );
        expect(wrong).toEqual([]);
      } finally {
        await b.close();
      }
    });
  }

  it('a user bind never leaves its rights on a search connection (cyrus-sasl#550)', async () => {
    // Anonymous cannot test userPassword, but a user bound as herself can. The group filter below
    // therefore matches only if the group search runs with the user's rights, which must never happen.
    const conf = {
      ldap_servers: slapd.url,
      ldap_search_base: SUFFIX,
      ldap_pool_size: 1,
      ldap_group_match_method: 'filter',
      ldap_group_filter: '(&(uid=%u)(userPassword=*))',
      ldap_group_search_base: `ou=people,${SUFFIX}`,
    };
    const anon = backend(conf);
    const svc = backend({ ...conf, ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW });
    try {
      for (let i = 0; i < 5; i++) {
        expect(await anon.authenticate(req('alice', USERS.alice), new AbortController().signal)).toMatchObject({ kind: 'rejected', code: 'not-authorized' });
        expect(await anon.authenticate(req('bob', USERS.bob), new AbortController().signal)).toMatchObject({ kind: 'rejected', code: 'not-authorized' });
        // Control: the service DN may test userPassword, so the same filter matches for it.
        expect(await svc.authenticate(req('alice', USERS.alice), new AbortController().signal)).toMatchObject({ kind: 'ok' });
      }
    } finally {
      await anon.close();
      await svc.close();
    }
  });
});

describe('deadlines and aborts', () => {
  it('a server that accepts but never answers is NO (unavailable: timeout) after ldap_timeout', async () => {
    const b = backend({ ldap_servers: `ldap://127.0.0.1:${BLACKHOLE}/`, ldap_search_base: SUFFIX, ldap_timeout: 0.3 });
    try {
      const o = await b.authenticate(req('alice', USERS.alice), new AbortController().signal);
      expect(o).toMatchObject({ kind: 'unavailable', code: 'timeout' });
    } finally {
      await b.close();
    }
  });

  it('an abort ends the request at once, and the next request still works', async () => {
    const b = backend({ ldap_servers: `ldap://127.0.0.1:${BLACKHOLE}/ ${slapd.url}`, ldap_search_base: SUFFIX, ldap_timeout: 30 });
    try {
      const ac = new AbortController();
      const p = b.authenticate(req('alice', USERS.alice), ac.signal);
      setTimeout(() => ac.abort(), 50);
      expect(await p).toMatchObject({ kind: 'unavailable' });
    } finally {
      await b.close();
    }
    const ok = backend({ ldap_servers: slapd.url, ldap_search_base: SUFFIX });
    try {
      const ac = new AbortController();
      ac.abort();
      expect(await ok.authenticate(req('alice', USERS.alice), ac.signal)).toMatchObject({ kind: 'unavailable' });
      expect(await ok.authenticate(req('alice', USERS.alice), new AbortController().signal)).toMatchObject({ kind: 'ok' });
    } finally {
      await ok.close();
    }
  });

  it('a dead server is refused quickly and the next one answers', async () => {
    const b = backend({ ldap_servers: `ldap://127.0.0.1:23949/ ${slapd.url}`, ldap_search_base: SUFFIX });
    try {
      expect(await b.authenticate(req('alice', USERS.alice), new AbortController().signal)).toMatchObject({ kind: 'ok' });
      expect(await b.authenticate(req('alice', 'x'), new AbortController().signal)).toMatchObject({ kind: 'rejected', code: 'bad-password' });
    } finally {
      await b.close();
    }
  });

  it('an empty password never reaches a bind', async () => {
    const b = backend({ ldap_servers: `ldap://127.0.0.1:${BLACKHOLE}/`, ldap_auth_method: 'fastbind', ldap_filter: `uid=%u,ou=people,${SUFFIX}` });
    try {
      expect(await b.authenticate(req('alice', ''), new AbortController().signal)).toMatchObject({ kind: 'rejected', code: 'no-password' });
    } finally {
      await b.close();
    }
  });
});
