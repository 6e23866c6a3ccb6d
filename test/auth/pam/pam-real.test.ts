import { chmodSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sendRequest } from '../../../src/client/saslauthd-client.js';
import { type RunningDaemon, startOurs, startReal } from '../../fixtures/daemon.js';
import { removePamService, writePamService } from '../../fixtures/pam.js';
import { verdict } from '../../fixtures/testsaslauthd.js';
import { ensureUser, mkpasswd, removeUser } from '../../fixtures/users.js';

// Real PAM (pam_unix through a test service file), real users, Debian's testsaslauthd and the real
// saslauthd -a pam for comparison.
const SERVICE = 'sat-pam-unix';
const today = Math.floor(Date.now() / 86_400_000);
const USERS = {
  yes: { name: 'sat_pam_yes', password: 'Yes-pw 1!', method: 'yescrypt' as const },
  sha: { name: 'sat_pam_sha', password: 'Sha-pw 2!', method: 'sha-512' as const },
  locked: { name: 'sat_pam_locked', password: 'Locked-pw 3', method: 'yescrypt' as const },
  expired: { name: 'sat_pam_expired', password: 'Expired-pw 4', method: 'sha-512' as const },
  pwold: { name: 'sat_pam_pwold', password: 'Old-pw 5', method: 'yescrypt' as const },
};

/** [user, password, expected verdict] — the same list goes to both daemons. */
const CASES: Array<[string, string, 'OK' | 'NO']> = [
  [USERS.yes.name, USERS.yes.password, 'OK'],
  [USERS.sha.name, USERS.sha.password, 'OK'],
  [USERS.yes.name, 'wrong', 'NO'],
  [USERS.sha.name, USERS.yes.password, 'NO'],
  ['sat_pam_nosuchuser', 'whatever', 'NO'],
  [USERS.locked.name, USERS.locked.password, 'NO'],
  [USERS.expired.name, USERS.expired.password, 'NO'],
  [USERS.pwold.name, USERS.pwold.password, 'NO'],
];

let ours: RunningDaemon;
let real: RunningDaemon;

beforeAll(async () => {
  writePamService(SERVICE, 'auth required pam_unix.so\naccount required pam_unix.so\n');
  for (const u of Object.values(USERS)) {
    const hash = await mkpasswd(u.password, u.method);
    if (u === USERS.locked) await ensureUser(u.name, `!${hash}`);
    else if (u === USERS.expired) await ensureUser(u.name, hash, { expireDay: 1 });
    else if (u === USERS.pwold) await ensureUser(u.name, hash, { lastChange: today - 100, maxDays: 30 });
    else await ensureUser(u.name, hash);
  }
  [ours, real] = await Promise.all([
    startOurs(['-a', 'pam', '-n', '5', '--pam-fail-delay', '300']),
    startReal(['-a', 'pam', '-n', '5']),
  ]);
});

afterAll(async () => {
  await Promise.all([ours?.stop(), real?.stop()]);
  for (const u of Object.values(USERS)) await removeUser(u.name);
  removePamService(SERVICE);
});

describe('-a pam against the real PAM stack', () => {
  it.each(CASES)('%s / %s → %s, same as saslauthd -a pam', async (user, password, expected) => {
    const [a, b] = await Promise.all([
      verdict(ours.socket, user, password, { service: SERVICE }),
      verdict(real.socket, user, password, { service: SERVICE }),
    ]);
    expect(a).toBe(expected);
    expect(b).toBe(expected);
  });

  it('logs which /etc/pam.d file the service uses, once, and the PAM error text', async () => {
    expect(ours.output()).toContain(`pam: first request for service '${SERVICE}', which uses /etc/pam.d/${SERVICE}`);
    expect(ours.output().split(`first request for service '${SERVICE}'`).length).toBe(2);
    expect(ours.output()).toMatch(/auth failure: \[user=sat_pam_expired\].*\[reason=pam_acct_mgmt failed: User account has expired \(PAM code 13\)\]/);
    expect(ours.output()).toMatch(/auth failure: \[user=sat_pam_yes\].*\[reason=pam_authenticate failed: Authentication failure \(PAM code 7\)\]/);
    expect(ours.output()).toMatch(/pam: service 'smtp' uses \/etc\/pam\.d\/(smtp|other)/);
    expect(ours.output()).not.toContain(USERS.yes.password);
  });
});

describe('-a pam wire texts', () => {
  let compat: RunningDaemon;
  beforeAll(async () => {
    compat = await startOurs(['-a', 'pam', '-n', '2', '--pam-fail-delay', '0', '--compat-replies']);
  });
  afterAll(async () => {
    await compat?.stop();
  });
  const ask = (login: string, password: string, service = SERVICE) => sendRequest(compat.socket, { login, password, service, realm: '' });

  it("sends saslauthd's texts with --compat-replies", async () => {
    expect(await ask(USERS.yes.name, USERS.yes.password)).toBe('OK');
    expect(await ask(USERS.yes.name, 'wrong')).toBe('NO PAM auth error');
    expect(await ask('sat_pam_nosuchuser', 'x')).toBe('NO PAM auth error');
    expect(await ask(USERS.expired.name, USERS.expired.password)).toBe('NO PAM acct error');
    // A service name PAM would turn into a path is refused before PAM sees it.
    expect(await ask(USERS.yes.name, USERS.yes.password, '../shadow')).toBe('NO PAM start error');
  });

  it('sends only "NO authentication failed" by default', async () => {
    expect(await sendRequest(ours.socket, { login: USERS.expired.name, password: USERS.expired.password, service: SERVICE, realm: '' })).toBe(
      'NO authentication failed',
    );
  });

  it('--pam-service forces the service whatever the request says', async () => {
    const forced = await startOurs(['-a', 'pam', '-n', '1', '--pam-service', SERVICE]);
    try {
      expect(await verdict(forced.socket, USERS.sha.name, USERS.sha.password, { service: 'no-such-service-anywhere' })).toBe('OK');
      expect(forced.output()).toContain(`pam: every request uses service '${SERVICE}': /etc/pam.d/${SERVICE}`);
    } finally {
      await forced.stop();
    }
  });
});

describe('-a pam fail delay', () => {
  it('holds a wrong password in the daemon, not in a helper: with one helper a good login overtakes it', async () => {
    const one = await startOurs(['-a', 'pam', '-n', '1', '--pam-fail-delay', '4000', '-V']);
    try {
      const order: string[] = [];
      const bad = verdict(one.socket, USERS.sha.name, 'wrong', { service: SERVICE }).then((v) => order.push(`bad:${v}`));
      // Once PAM has said no, the one helper is free again and the request is only waiting on a timer.
      const until = Date.now() + 30_000;
      while (!/PAM asked for a \d+ ms failure delay/.test(one.output()) && Date.now() < until) await new Promise((r) => setTimeout(r, 20));
      const good = verdict(one.socket, USERS.sha.name, USERS.sha.password, { service: SERVICE }).then((v) => order.push(`good:${v}`));
      await Promise.all([bad, good]);
      expect(order).toEqual(['good:OK', 'bad:NO']);
      // pam_unix asked for its 2 s delay through our PAM_FAIL_DELAY callback, so libpam did not sleep.
      expect(one.output()).toContain('the helper did not sleep, the daemon waits 4000 ms');
    } finally {
      await one.stop();
    }
  });
});

describe('--check for -a pam', () => {
  it('prints which /etc/pam.d file each service uses', async () => {
    const { run } = await import('../../fixtures/run.js');
    const { DAEMON_BIN } = await import('../../fixtures/paths.js');
    const r = await run(process.execPath, [DAEMON_BIN, '-a', 'pam', '--check', '-m', '/tmp/sat-pam-check', '--pam-service', SERVICE]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`pam: every request uses service '${SERVICE}': /etc/pam.d/${SERVICE}\n`);
    const r2 = await run(process.execPath, [DAEMON_BIN, '-a', 'pam', '--check', '-m', '/tmp/sat-pam-check']);
    expect(r2.stdout).toMatch(/pam: service 'smtp' uses \/etc\/pam\.d\/(smtp\n|other \(no \/etc\/pam\.d\/smtp\)\n)/);
  });
});

describe('PAM_RHOST', () => {
  const DIR = '/tmp/sat-pam-rhost';
  const RHOST_SERVICE = 'sat-pam-rhost';
  beforeAll(() => {
    rmSync(DIR, { recursive: true, force: true });
    mkdirSync(DIR);
    writeFileSync(`${DIR}/rhost.sh`, `#!/bin/sh\necho "rhost=[$PAM_RHOST]" >> ${DIR}/out\n`);
    chmodSync(`${DIR}/rhost.sh`, 0o755);
    // The helper's real uid is nobody's, and pam_exec runs its program with the real uid unless told
    // `seteuid`: as root, the script may write into this root-owned directory.
    writePamService(RHOST_SERVICE, `auth optional pam_exec.so seteuid ${DIR}/rhost.sh\nauth required pam_unix.so\naccount required pam_unix.so\n`);
  });
  afterAll(() => {
    removePamService(RHOST_SERVICE);
    rmSync(DIR, { recursive: true, force: true });
  });

  it('is the v5 client address before ";", and unset for a v4 request', async () => {
    const base = { login: USERS.sha.name, password: USERS.sha.password, service: RHOST_SERVICE, realm: '' };
    expect(await sendRequest(ours.socket, { ...base, clientAddr: '192.0.2.7;4711' })).toBe('OK');
    expect(await sendRequest(ours.socket, base)).toBe('OK');
    expect(readFileSync(`${DIR}/out`, 'utf8')).toBe('rhost=[192.0.2.7]\nrhost=[]\n');
  });
});
