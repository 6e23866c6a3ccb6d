import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type RunningDaemon, startOurs } from '../../fixtures/daemon.js';
import { PEOPLE, SUFFIX, Slapd, USERS, writeSaslauthdConf } from '../../fixtures/slapd.js';
import { verdict } from '../../fixtures/testsaslauthd.js';
import { sendRequest } from '../../../src/client/saslauthd-client.js';
import { isOkReply } from '../../../src/protocol/index.js';

// Two slapds with one user each that the other lacks, so every OK says which server answered.

const PORT_A = 23930;
const PORT_B = 23931;
const only = (name: string) => `dn: uid=${name},${PEOPLE}\nobjectClass: inetOrgPerson\nuid: ${name}\ncn: ${name}\nsn: ${name}\nuserPassword: ${name}-pw\n\n`;

let a: Slapd;
let b: Slapd;
let d: RunningDaemon;

beforeAll(async () => {
  a = await Slapd.create({ port: PORT_A, extraLdif: only('only_a') });
  b = await Slapd.create({ port: PORT_B, extraLdif: only('only_b') });
  d = await startOurs(['-a', 'ldap', '-O', writeSaslauthdConf({ ldap_servers: `${a.url} ${b.url}`, ldap_search_base: SUFFIX, ldap_timeout: 3 })]);
});

afterAll(async () => {
  await d?.stop();
  await a?.destroy();
  await b?.destroy();
});

const which = async (): Promise<string> => {
  const [ra, rb] = [await verdict(d.socket, 'only_a', 'only_a-pw'), await verdict(d.socket, 'only_b', 'only_b-pw')];
  return ra === 'OK' && rb === 'NO' ? 'A' : ra === 'NO' && rb === 'OK' ? 'B' : `?${ra}${rb}`;
};

async function until(what: () => Promise<boolean>, timeoutMs: number): Promise<number> {
  const t0 = Date.now();
  while (Date.now() - t0 < timeoutMs) {
    if (await what()) return Date.now() - t0;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`not within ${timeoutMs} ms`);
}

describe('ldap_servers failover', () => {
  it('uses the first server, fails over to the second, and fails back when the first returns', async () => {
    expect(await which()).toBe('A');
    await a.stop();
    // The very next request is retried on B: no NO for a user that B knows.
    expect(await verdict(d.socket, 'alice', USERS.alice)).toBe('OK');
    expect(await which()).toBe('B');
    expect(await verdict(d.socket, 'alice', 'wrong')).toBe('NO');
    await a.start();
    const ms = await until(async () => (await which()) === 'A', 15_000);
    console.log(`fail-back to the first server ${ms} ms after it returned`);
    expect(await which()).toBe('A');
    expect(d.output()).toMatch(/LDAP server marked down/);
    expect(d.output()).toMatch(/LDAP server is back/);
  });

  it('a server killed mid-load gives no wrong OK, and answers again soon after it returns', async () => {
    const single = await startOurs(['-a', 'ldap', '-O', writeSaslauthdConf({ ldap_servers: a.url, ldap_search_base: SUFFIX, ldap_timeout: 2 })]);
    try {
      const probes = [
        { login: 'alice', password: USERS.alice, expect: true },
        { login: 'alice', password: 'wrong', expect: false },
        { login: 'bob', password: USERS.bob, expect: true },
        { login: 'nobody', password: USERS.alice, expect: false },
        { login: 'bob', password: USERS.alice, expect: false },
      ];
      let wrongOk = 0;
      let ok = 0;
      let no = 0;
      let stop = false;
      let lastOkAt = 0;
      let i = 0;
      // Requests sent while slapd is gone (it has exited, not just been signalled) cannot be OK.
      let outage: { from: number; to: number } | null = null;
      let okDuringOutage = 0;
      const client = async (): Promise<void> => {
        while (!stop) {
          const p = probes[i++ % probes.length]!;
          const sentAt = Date.now();
          const reply = await sendRequest(single.socket, { login: p.login, password: p.password, service: 'imap', realm: '' });
          if (isOkReply(reply)) {
            ok++;
            lastOkAt = Date.now();
            if (!p.expect) wrongOk++;
            if (outage && sentAt > outage.from && sentAt < outage.to) okDuringOutage++;
          } else no++;
        }
      };
      const load = Promise.all(Array.from({ length: 8 }, client));
      await new Promise((r) => setTimeout(r, 700));
      await a.stop('SIGKILL');
      outage = { from: Date.now(), to: Infinity };
      await new Promise((r) => setTimeout(r, 1000));
      outage = { from: outage.from, to: Date.now() };
      await a.start();
      const back = Date.now();
      const ms = await until(async () => lastOkAt > back, 15_000);
      stop = true;
      await load;
      console.log(`killed mid-load: ok=${ok} no=${no} wrongOk=${wrongOk}; first OK ${ms} ms after slapd returned`);
      expect(wrongOk).toBe(0);
      expect(okDuringOutage).toBe(0);
      expect(ok).toBeGreaterThan(0);
      expect(await verdict(single.socket, 'alice', USERS.alice)).toBe('OK');
      expect(single.output()).toMatch(/LDAP server unavailable/);
    } finally {
      await single.stop();
    }
  });
});
