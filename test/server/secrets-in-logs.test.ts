import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange, sendRequest } from '../../src/client/saslauthd-client.js';
import { encodeRequest } from '../../src/protocol/index.js';
import { startOurs } from '../helpers/daemon.js';
import { run } from '../helpers/run.js';
import { testsaslauthd } from '../helpers/testsaslauthd.js';
import { ensureUser, mkpasswd, removeUser } from '../helpers/users.js';

/**
 * saslauthd prints shadow hashes, rimap and httpform passwords in its debug log (reference §8.7).
 * Each backend runs here at the most verbose level, in both log formats, through good, bad and
 * malformed requests; nothing secret may appear. Other backends add a case to CASES (with their
 * peers' secrets, e.g. the LDAP bind password, and the cache's HMAC output once it exists).
 */
interface SecretCase {
  readonly name: string;
  readonly setup: () => Promise<{ args: string[]; users: Array<{ name: string; password: string }>; secrets: string[] }>;
  readonly teardown: () => Promise<void>;
}

const GOOD = { name: 'sat_rel_sec_good', password: 'Zq8#good-Passw0rd' };
const SHA = { name: 'sat_rel_sec_sha', password: 'Vw3!sha-Passw0rd' };
const LOCKED = { name: 'sat_rel_sec_lock', password: 'Lk5%locked-Passw0rd' };

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
      const hashes = await Promise.all([GOOD, SHA, LOCKED].map((u) => shadowHash(u.name)));
      // The whole hash, and its salt and digest parts on their own.
      const parts = hashes.flatMap((h) => [h, ...h.split('$').filter((p) => p.length >= 8)]);
      return { args: ['-a', 'shadow'], users: [GOOD, SHA, LOCKED], secrets: parts };
    },
    teardown: async () => {
      for (const u of [GOOD, SHA, LOCKED]) await removeUser(u.name);
    },
  },
];

/** Every way a password could leak into text. */
function encodings(s: string): string[] {
  const b = Buffer.from(s, 'utf8');
  return [s, b.toString('hex'), b.toString('base64'), b.toString('base64url'), JSON.stringify(s).slice(1, -1), encodeURIComponent(s)];
}

/** A session of good, bad and malformed requests, as clients and attackers send them. */
async function session(socket: string, users: Array<{ name: string; password: string }>): Promise<void> {
  for (const u of users) {
    await testsaslauthd(socket, u.name, u.password);
    await testsaslauthd(socket, u.name, `${u.password}x`);
    await testsaslauthd(socket, u.name, u.password, { realm: 'example.org', service: 'smtp' });
    await sendRequest(socket, { login: u.name, password: u.password, service: 'imap', realm: '', clientAddr: '192.0.2.7;4242' });
    await exchange(socket, encodeRequest([u.name, `${u.password}\0tail`, 'imap', ''])); // NUL in password
    await exchange(socket, encodeRequest([u.name, Buffer.concat([Buffer.from(u.password), Buffer.from([0xff, 0xfe])]), 'imap', '']));
    await exchange(socket, encodeRequest([Buffer.from([0xc3, 0x28]), u.password, 'imap', ''])); // bad UTF-8 login
    await exchange(socket, encodeRequest(['', u.password, 'imap', '']));
    await exchange(socket, encodeRequest([u.name, u.password.repeat(30), 'imap', ''])); // over 256 bytes
    // A client that sends half a request and goes away.
    await new Promise<void>((resolve) => {
      const s = connect({ path: socket }, () => {
        s.end(encodeRequest([u.name, u.password]).subarray(0, -3));
      });
      s.on('close', () => resolve());
      s.on('error', () => resolve());
      s.resume();
    });
  }
  await testsaslauthd(socket, 'sat_rel_sec_nosuch', 'Unknown#user-Pass');
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
            await session(d.socket, ctx.users);
          } finally {
            await d.stop();
            out = d.output();
          }
          // The session really was logged at trace/debug detail (the check would be empty otherwise).
          expect(out).toMatch(/auth success: \[user=sat_rel_sec_good\]/);
          expect(out).toMatch(/rejected malformed request: nul-byte in password/);
          expect(out).toMatch(/exceeded MAX_REQ_LEN/);
          expect(out).toMatch(/auth failure: \[user=sat_rel_sec_lock\]/);
          const needles = [...ctx.users.flatMap((u) => encodings(u.password)), 'Unknown#user-Pass', ...ctx.secrets];
          for (const n of needles) expect(out.includes(n), `output contains ${JSON.stringify(n)}`).toBe(false);
          // No 256-bit key or MAC in hex or base64 (cache HMACs, derived keys).
          expect(out).not.toMatch(/\b[0-9a-f]{64}\b/);
        });
      }
    });
  }
});
