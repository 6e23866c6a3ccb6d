import { fileURLToPath } from 'node:url';
import { realSaslauthdInstalled } from '../../test/fixtures/daemon.js';
import { startNodeScript, startOurDaemon, startRealDaemon } from '../daemons.js';
import type { Probe } from '../../test/fixtures/load.js';
import type { BenchTarget, Scenario } from '../scenario.js';
import { PEOPLE, SERVICE_DN, SERVICE_PW, Slapd, USERS, writeSaslauthdConf } from '../../test/fixtures/slapd.js';

/** Loopback port of the benchmark's slapd (inside the LDAP work's range 23890-23999). */
const PORT = 23950;

let slapd: Slapd | null = null;
let conf = '';

/** The saslauthd.conf both daemons read (for tools that profile the scenario). */
export const ldapScenarioConf = (): string => conf;

/** Three users with their passwords, and one wrong password in four requests. */
function probes(): readonly Probe[] {
  const r = (login: string, password: string) => ({ login, password, service: 'imap', realm: '' });
  return [
    { request: r('alice', USERS.alice), expect: 'OK' },
    { request: r('bob', USERS.bob), expect: 'OK' },
    { request: r('dave', USERS.dave), expect: 'OK' },
    { request: r('alice', 'wrong-password'), expect: 'NO' },
  ];
}

const FLOOR_SERVER = fileURLToPath(new URL('../ldap-floor-server.js', import.meta.url));
const BACKEND_FLOOR_SERVER = fileURLToPath(new URL('../backend-floor-server.js', import.meta.url));

/**
 * `-a ldap`, method bind: search as a service DN, then bind as the user, against a throwaway slapd.
 * Both daemons read the same saslauthd.conf (only keys saslauthd knows).
 */
export const ldapScenario: Scenario = {
  name: 'ldap-bind',
  concurrency: [1, 8, 64],
  count: 40_000,
  seconds: 8,
  async setup(): Promise<readonly Probe[]> {
    slapd = await Slapd.create({ port: PORT });
    conf = writeSaslauthdConf({ ldap_servers: slapd.url, ldap_search_base: PEOPLE, ldap_bind_dn: SERVICE_DN, ldap_bind_pw: SERVICE_PW, ldap_timeout: 5 });
    return probes();
  },
  // One probe in four is a wrong password; saslauthd answers it at once, so ours does too here
  // (--fail-delay 0): this scenario measures bind speed, not the brute-force defence.
  startOurs: () => startOurDaemon(['-a', 'ldap', '-O', conf, '--fail-delay', '0']),
  // ldap-floor-server.ts on the same slapd: the search and the user bind on connections held open,
  // BER by hand, nothing else.
  floor: {
    name: 'ldap-bind floor (bare node:net)',
    start: (): Promise<BenchTarget> => startNodeScript(FLOOR_SERVER, ['127.0.0.1', String(PORT), PEOPLE, SERVICE_DN, SERVICE_PW]),
  },
  // Our LDAP backend (its pools, ldapts) in the same bare server: no request path around it.
  backendFloor: {
    name: 'ldap-bind backend floor (bare node:net + our ldap)',
    start: (): Promise<BenchTarget> => startNodeScript(BACKEND_FLOOR_SERVER, ['ldap', '-O', conf]),
  },
  async startReal(): Promise<BenchTarget | null> {
    return realSaslauthdInstalled() ? startRealDaemon(['-a', 'ldap', '-O', conf]) : null;
  },
  async teardown(): Promise<void> {
    await slapd?.destroy();
    slapd = null;
  },
};

export default ldapScenario;
